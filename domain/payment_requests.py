"""Paying the khata through a link: the rules, whatever the gateway.

A retailer asks to pay ("pay", "pay 5000"); Thok opens a payment request for that amount (by
default what is owed, never more) and sends links. The retailer picks a gateway by opening one;
from then on the request belongs to that gateway (a second gateway on the same request could take
the money twice). The gateway's answers arrive as `Verdict`s, from the browser's return, from the
lookup job, from a retry, possibly all at once: `settle` takes the request's row lock first, so the
first one decides and the rest find it settled. Only a completed payment of exactly the amount
asked, in NPR, books, through `ledger.record_payment` with the request as its idempotency key, so
even two racing transactions could book one CREDIT. Anything else books nothing and says why.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import PaymentRequest, Retailer, RetailerWholesalerCredit
from domain.amounts import to_amount
from domain.credit import account_balance, wholesaler_label
from domain.errors import DomainError, InvalidInput, NotFound
from domain.events import Notice, notify
from domain.khata_payments import record_payment
from domain.money import npr
from domain.parties import PartyKind

log = logging.getLogger(__name__)

GATEWAYS = ("khalti", "esewa")
# What a gateway's final word means for the khata (the adapters in payments/ map their statuses).
COMPLETED, PENDING, FAILED, EXPIRED, CANCELLED = "completed", "pending", "failed", "expired", "cancelled"
_CLOSED = {FAILED: "FAILED", EXPIRED: "EXPIRED", CANCELLED: "CANCELLED"}


@dataclass(frozen=True)
class Verdict:
    outcome: str  # COMPLETED, PENDING, FAILED, EXPIRED or CANCELLED
    gateway_status: str  # the gateway's word, verbatim, for the record
    amount: Decimal | None = None  # what the gateway says was paid, in rupees
    currency: str = "NPR"
    transaction_ref: str | None = None  # the gateway's transaction id: the payment's reference


class NothingDue(DomainError):
    code = "pay_nothing_due"

    def __init__(self) -> None:
        super().__init__("nothing is owed: there is nothing to pay")


class MoreThanDue(DomainError):
    code = "pay_more_than_due"

    def __init__(self, asked: Decimal, due: Decimal):
        super().__init__(f"NPR {npr(asked)} is more than the NPR {npr(due)} owed")
        self.asked, self.due = asked, due


class LinkClosed(DomainError):
    """The link was paid, expired, cancelled or started with the other gateway."""

    code = "link_closed"

    def __init__(self, request: PaymentRequest, why: str):
        super().__init__(why)
        self.request = request


def _now() -> datetime:
    return datetime.now(UTC)


def open_request(
    session: Session, retailer_id: int, amount: object | None, ttl: timedelta, now: datetime | None = None
) -> PaymentRequest:
    """A request for `amount` (default: all that is owed). An open, unexpired request for the same
    amount is given again rather than a second one: a retailer who sends "pay" twice gets one link."""
    now = now or _now()
    due = account_balance(session, retailer_id).outstanding
    if due <= 0:
        raise NothingDue()
    value = due if amount is None else to_amount(amount)
    if value > due:
        raise MoreThanDue(value, due)
    same = session.scalars(
        select(PaymentRequest)
        .where(
            PaymentRequest.retailer_id == retailer_id,
            PaymentRequest.status == "OPEN",
            PaymentRequest.amount == value,
            PaymentRequest.expires_at > now + timedelta(minutes=10),
        )
        .order_by(PaymentRequest.id.desc())
    ).first()
    if same is not None:
        return same
    # Paid to the one wholesaler owed, when there is one (they are told); else to Thok overall,
    # as an admin books a payment that names no wholesaler.
    owed = session.scalars(
        select(RetailerWholesalerCredit.wholesaler_id).where(
            RetailerWholesalerCredit.retailer_id == retailer_id, RetailerWholesalerCredit.outstanding > 0
        )
    ).all()
    request = PaymentRequest(
        token=secrets.token_hex(16),  # eSewa's transaction_uuid takes letters, digits and hyphens
        retailer_id=retailer_id,
        wholesaler_id=owed[0] if len(owed) == 1 and owed[0] is not None else None,
        amount=value,
        currency="NPR",
        expires_at=now + ttl,
    )
    session.add(request)
    session.flush()
    return request


def _locked(session: Session, *, token: str | None = None, request_id: int | None = None) -> PaymentRequest:
    q = select(PaymentRequest).with_for_update()
    q = q.where(PaymentRequest.token == token) if token is not None else q.where(PaymentRequest.id == request_id)
    found = session.scalars(q).first()
    if found is None:
        raise NotFound("no such payment link")
    session.refresh(found)  # the row as the lock holder left it, not as this session first read it
    return found


def choose_gateway(session: Session, token: str, gateway: str, now: datetime | None = None) -> PaymentRequest:
    """The retailer opened the link for `gateway`: the request is now that gateway's."""
    if gateway not in GATEWAYS:
        raise InvalidInput(f"unknown gateway {gateway!r}")
    request = _locked(session, token=token)
    if request.status != "OPEN":
        raise LinkClosed(request, f"this payment link is {request.status.lower()}")
    if (now or _now()) >= request.expires_at:
        raise LinkClosed(request, "this payment link has expired")
    if request.gateway not in (None, gateway):
        raise LinkClosed(request, f"this payment was started with {request.gateway}; use that link")
    request.gateway = gateway
    return request


def gateway_started(session: Session, request: PaymentRequest, gateway_ref: str, gateway_url: str) -> None:
    request.gateway_ref = gateway_ref
    request.gateway_url = gateway_url
    session.flush()


def by_gateway_ref(session: Session, gateway: str, gateway_ref: str) -> PaymentRequest:
    found = session.scalars(
        select(PaymentRequest).where(PaymentRequest.gateway == gateway, PaymentRequest.gateway_ref == gateway_ref)
    ).first()
    if found is None:
        raise NotFound("no payment link has that gateway reference")
    return found


def by_token(session: Session, token: str) -> PaymentRequest:
    found = session.scalars(select(PaymentRequest).where(PaymentRequest.token == token)).first()
    if found is None:
        raise NotFound("no such payment link")
    return found


def settle(session: Session, request_id: int, verdict: Verdict, now: datetime | None = None) -> PaymentRequest:
    """What the gateway said, applied once. Returns the request as it stands (OPEN while pending)."""
    now = now or _now()
    request = _locked(session, request_id=request_id)
    if request.status != "OPEN":
        return request  # settled already: the redirect, the job and a retry each get here once
    request.gateway_status = verdict.gateway_status[:40]
    if verdict.transaction_ref:
        request.transaction_ref = verdict.transaction_ref[:100]
    if verdict.outcome == PENDING:
        return request
    if verdict.outcome in _CLOSED:
        _close(session, request, _CLOSED[verdict.outcome], now, f"{request.gateway}: {verdict.gateway_status}")
        notify(session, _to_retailer(request, "payment_not_done", {"status": verdict.gateway_status}))
        return request
    if verdict.outcome != COMPLETED:
        raise ValueError(f"unknown outcome {verdict.outcome!r}")
    if verdict.currency != request.currency or verdict.amount != request.amount:
        paid = f"{verdict.currency} {verdict.amount}"
        return _review(session, request, now, f"the gateway says {paid} was paid; the link asked NPR {request.amount}")
    reference = verdict.transaction_ref or f"{request.gateway}:{request.token}"
    try:
        with session.begin_nested():
            payment, _entry = record_payment(
                session,
                retailer_id=request.retailer_id,
                amount=request.amount,
                method=request.gateway or "",
                reference=reference,
                wholesaler_id=request.wholesaler_id,
                idempotency_key=f"payment-request:{request.id}",
                notes=f"paid through a Thok link ({request.gateway})",
                payment_request_id=request.id,
            )
    except DomainError as exc:  # owed less by now (paid in cash meanwhile), a reference seen before
        return _review(session, request, now, str(exc))
    _close(session, request, "COMPLETED", now, None)
    left = account_balance(session, request.retailer_id)
    notify(
        session,
        _to_retailer(
            request,
            "payment_link_paid",
            {"amount": npr(payment.amount), "method": _method(request), "outstanding": npr(left.outstanding)},
        ),
    )
    if request.wholesaler_id is not None:
        retailer = session.get(Retailer, request.retailer_id, execution_options={"include_deleted": True})
        assert retailer is not None
        notify(
            session,
            Notice(
                key="payment_link_paid_wholesaler",
                to_kind="wholesaler",
                to_id=request.wholesaler_id,
                dedupe_key=f"payment-request:{request.id}:w",
                kind="payment_update",
                params={
                    "amount": npr(payment.amount),
                    "method": _method(request),
                    "retailer": PartyKind.shown_name(retailer),
                    "reference": reference,
                },
            ),
        )
    return request


def expire(session: Session, request_id: int, now: datetime | None = None) -> PaymentRequest:
    """A link past its time that no gateway says was paid."""
    request = _locked(session, request_id=request_id)
    if request.status == "OPEN":
        _close(session, request, "EXPIRED", now or _now(), "the link expired unpaid")
        notify(session, _to_retailer(request, "payment_not_done", {"status": "expired"}))
    return request


def due_for_lookup(
    session: Session, now: datetime | None = None, started_before: timedelta = timedelta(minutes=1)
) -> list[PaymentRequest]:
    """Open requests the lookup job should ask about: started with a gateway a minute ago or more,
    or past their time (oldest expiry first)."""
    now = now or _now()
    return list(
        session.scalars(
            select(PaymentRequest)
            .where(PaymentRequest.status == "OPEN")
            .where((PaymentRequest.expires_at <= now) | (PaymentRequest.updated_at <= now - started_before))
            .where((PaymentRequest.gateway.is_not(None)) | (PaymentRequest.expires_at <= now))
            .order_by(PaymentRequest.expires_at)
            .limit(200)
        )
    )


def _close(session: Session, request: PaymentRequest, status: str, now: datetime, note: str | None) -> None:
    request.status = status
    request.settled_at = now
    request.note = note
    session.flush()


def _review(session: Session, request: PaymentRequest, now: datetime, why: str) -> PaymentRequest:
    log.warning("payment request %s needs a person: %s", request.id, why)
    _close(session, request, "REVIEW", now, why)
    notify(session, _to_retailer(request, "payment_review", {"amount": npr(request.amount)}))
    return request


def _method(request: PaymentRequest) -> str:
    return {"khalti": "Khalti", "esewa": "eSewa"}.get(request.gateway or "", request.gateway or "")


def _to_retailer(request: PaymentRequest, key: str, params: dict[str, str]) -> Notice:
    return Notice(
        key=key,
        to_kind="retailer",
        to_id=request.retailer_id,
        dedupe_key=f"payment-request:{request.id}:{key}",
        kind="payment_update",
        params={"method": _method(request), **params},
    )


def paid_to(session: Session, request: PaymentRequest) -> str | None:
    return wholesaler_label(session, request.wholesaler_id) if request.wholesaler_id else None


def recent_requests(session: Session, retailer_id: int, n: int = 5) -> list[PaymentRequest]:
    """The shop's latest pay links, for the dashboard (REVIEW ones need a person)."""
    return list(
        session.scalars(
            select(PaymentRequest)
            .where(PaymentRequest.retailer_id == retailer_id)
            .order_by(PaymentRequest.id.desc())
            .limit(n)
        )
    )
