"""The khata's use cases: record a payment, reverse one, set a credit limit (overall or with one
wholesaler). Each is one unit of work's worth: the domain call, the audit row, the notices.

Who is told about a payment, whoever records it: the retailer always (it is their money); the
wholesaler paid too, unless they recorded it themselves (then the reply to their PAID tells them).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from db.models import ActorType, LedgerEntry, Retailer, RetailerPayment
from domain import credit, khata_payments
from domain.amounts import to_amount
from domain.calendar import NEPAL
from domain.credit import Balance, owed_to_wholesaler, wholesaler_label
from domain.errors import InvalidInput, NotFound
from domain.events import Notice, notify
from domain.money import npr
from parsing.payment_methods import label
from usecases import rows
from usecases.actor import Actor, audit


@dataclass(frozen=True)
class PaymentRecorded:
    payment: RetailerPayment
    entry: LedgerEntry
    retailer: Retailer
    balance: Balance  # the shop's whole account, after
    owed_to_wholesaler: Decimal | None  # what the shop still owes the wholesaler paid; None: paid to Thok


@dataclass(frozen=True)
class PaymentReversed:
    entry: LedgerEntry  # the compensating DEBIT
    balance: Balance


def method_label(method: str) -> str:
    """How a method reads in a message: "Esewa", "Bank Transfer" (the payment-method table's label)."""
    return label(method)


def credit_limit_amount(raw: Decimal | str) -> Decimal:
    """A limit as typed: zero is a limit (no credit), anything else a positive amount."""
    if isinstance(raw, Decimal):
        return raw if raw == 0 else to_amount(raw, "credit limit")
    text = (raw or "").replace(",", "").strip()
    if text in ("0", "0.0", "0.00"):
        return Decimal(0)
    return to_amount(text, "credit limit")


def _staff_only(actor: Actor, what: str) -> None:
    """Thok's own people: an admin, or an operator at the server's shell."""
    if actor.kind not in (ActorType.ADMIN, ActorType.SYSTEM):
        raise InvalidInput(f"only Thok can {what}")


# --- payments ------------------------------------------------------------------------------------


def record_payment(
    session: Session,
    actor: Actor,
    *,
    retailer_id: int,
    amount: Decimal | str,
    method: str,
    reference: str | None,
    wholesaler_id: int | None = None,
    notes: str | None = None,
) -> PaymentRecorded:
    """A retailer's payment: one payment row, its one CREDIT, the audit row, and the retailer (and
    the wholesaler paid, when someone else recorded it) told. A wholesaler records only payments to
    itself (`NoOpenBalance` otherwise, worded so it learns nothing about the shop)."""
    retailer = rows.retailer(session, retailer_id)
    if actor.kind == ActorType.WHOLESALER:
        by_admin, by_wholesaler = None, actor.id
    elif actor.is_admin:
        by_admin, by_wholesaler = actor.id, None
    else:
        raise InvalidInput("a payment is recorded by an admin (--admin EMAIL) or by the wholesaler paid")
    if wholesaler_id is not None and actor.kind != ActorType.WHOLESALER:
        rows.wholesaler(session, wholesaler_id)
    before = credit.account_balance(session, retailer_id)
    payment, entry = khata_payments.record_payment(
        session,
        retailer_id=retailer_id,
        amount=to_amount(amount),
        method=method,
        reference=reference,
        recorded_by_admin_id=by_admin,
        recorded_by_wholesaler_id=by_wholesaler,
        wholesaler_id=wholesaler_id,
        notes=(notes or "").strip() or None,
    )
    paid_to = payment.wholesaler_id
    audit(
        session,
        actor,
        "payment.record",
        "retailer",
        retailer_id,
        before={"outstanding": before.outstanding},
        after={
            "payment_id": payment.id,
            "entry_id": entry.id,
            "amount": payment.amount,
            "method": payment.method,
            "reference": payment.reference,
            "wholesaler_id": paid_to,
            "outstanding": entry.balance_after,
        },
        retailer_id=retailer_id,
    )
    after = credit.account_balance(session, retailer_id)
    owed = owed_to_wholesaler(session, retailer_id, paid_to) if paid_to is not None else None
    method_text = method_label(payment.method)
    told = {"amount": npr(payment.amount), "method": method_text, "outstanding": npr(after.outstanding)}
    if actor.kind == ActorType.WHOLESALER:
        assert actor.id is not None
        notice = Notice(
            key="payment_received",
            to_kind="retailer",
            to_id=retailer_id,
            dedupe_key=f"payment:{payment.id}",
            kind="payment_update",
            params={"wholesaler": wholesaler_label(session, actor.id), **told},
        )
    else:
        notice = Notice(
            key="payment_received_thok",
            to_kind="retailer",
            to_id=retailer_id,
            dedupe_key=f"payment:{payment.id}",
            kind="payment_update",
            params=told,
        )
    notify(session, notice)
    if paid_to is not None and not actor.is_wholesaler(paid_to):
        notify(
            session,
            Notice(
                key="payment_recorded_wholesaler",
                to_kind="wholesaler",
                to_id=paid_to,
                dedupe_key=f"payment:{payment.id}:w",
                kind="payment_update",
                params={
                    "retailer": retailer.shop_name or retailer.name,
                    "amount": npr(payment.amount),
                    "method": method_text,
                    "outstanding": npr(owed or 0),
                },
            ),
        )
    return PaymentRecorded(payment, entry, retailer, after, owed)


def reverse_payment(
    session: Session, actor: Actor, payment_id: int, reason: str, *, retailer_id: int | None = None
) -> PaymentReversed:
    """An admin takes back a wrongly booked payment: a compensating DEBIT (the reversal's own rules
    are `khata_payments.reverse_payment`'s), the audit row, and the retailer and the wholesaler
    paid told. `retailer_id`: the payment must be this shop's (the dashboard's khata page asks
    about one shop)."""
    actor.as_admin()  # a reversal is an admin's correction, named in the admin audit trail
    payment = session.get(RetailerPayment, payment_id)
    if payment is None or (retailer_id is not None and payment.retailer_id != retailer_id):
        what = f"one of retailer #{retailer_id}'s" if retailer_id is not None else "recorded"
        raise NotFound(f"payment #{payment_id} is not {what}")
    done = khata_payments.reverse_payment(session, payment_id, reason)
    credit_entry, paid_to = done.credit, done.credit.wholesaler_id
    audit(
        session,
        actor,
        "payment.reverse",
        "retailer_payment",
        payment.id,
        before={"credit_entry_id": credit_entry.id, "amount": credit_entry.amount, "outstanding": done.before.net},
        after={"entry_id": done.entry.id, "reason": done.reason, "outstanding": done.after.net},
        retailer_id=payment.retailer_id,
    )
    received = f"{payment.received_at.astimezone(NEPAL):%Y-%m-%d}"
    common = {"amount": npr(credit_entry.amount), "method": method_label(payment.method), "date": received}
    notify(
        session,
        Notice(
            key="payment_reversed",
            to_kind="retailer",
            to_id=payment.retailer_id,
            dedupe_key=f"payment:{payment.id}:reversed",
            kind="payment_update",
            params=common | {"outstanding": npr(done.after.outstanding)},
        ),
    )
    if paid_to is not None:
        shop = rows.retailer(session, payment.retailer_id)
        notify(
            session,
            Notice(
                key="payment_reversed_wholesaler",
                to_kind="wholesaler",
                to_id=paid_to,
                dedupe_key=f"payment:{payment.id}:reversed:w",
                kind="payment_update",
                params=common
                | {
                    "retailer": shop.shop_name or shop.name,
                    "owed": npr(owed_to_wholesaler(session, payment.retailer_id, paid_to)),
                },
            ),
        )
    return PaymentReversed(done.entry, done.after)


# --- credit limits -------------------------------------------------------------------------------


def set_credit_limit(
    session: Session, actor: Actor, retailer_id: int, limit: Decimal | str, *, wholesaler_id: int | None = None
) -> Balance:
    """The retailer's overall limit, or (with `wholesaler_id`) their limit with one wholesaler;
    never below what is already owed and held. Audited; nobody is messaged (no entry point ever
    told the shop, and a limit is Thok's own risk decision)."""
    _staff_only(actor, "set a credit limit")
    value = credit_limit_amount(limit)
    rows.retailer(session, retailer_id)
    if wholesaler_id is None:
        before = credit.account_balance(session, retailer_id)
        after = credit.set_credit_limit(session, retailer_id, value)
        audit(
            session,
            actor,
            "credit.set_limit",
            "retailer",
            retailer_id,
            before={"credit_limit": before.credit_limit},
            after={"credit_limit": after.credit_limit},
            retailer_id=retailer_id,
        )
        return after
    rows.wholesaler(session, wholesaler_id)
    pair = credit.wholesaler_balance(session, retailer_id, wholesaler_id)
    after = credit.set_wholesaler_credit_limit(session, retailer_id, wholesaler_id, value)
    audit(
        session,
        actor,
        "credit.set_wholesaler_limit",
        "retailer",
        retailer_id,
        before={"wholesaler_id": wholesaler_id, "credit_limit": pair.credit_limit if pair else None},
        after={"wholesaler_id": wholesaler_id, "credit_limit": after.credit_limit},
        retailer_id=retailer_id,
    )
    return after
