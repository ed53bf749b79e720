"""The pay links' use cases: the gateways as configured in settings, driven through the domain's
rules (domain/payment_requests.py). The web routes (bot/pay.py) and the lookup job call these; each
takes a session inside the caller's unit of work.

A gateway is asked over HTTP outside any lock except where the answer decides what the lock
guards: starting a Khalti payment holds the request's row, so two taps on the link start one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from db.models import PaymentRequest
from domain import payment_requests as pr
from domain.errors import InvalidInput
from payments import GatewayError, GatewayTimeout
from payments.esewa import Esewa
from payments.khalti import Khalti
from thok.config import Settings

log = logging.getLogger(__name__)
# A payment made in the link's last minutes can reach the gateway's books a little after: the job
# expires a link only this long after its time, and only when the gateway still does not say paid.
GRACE = timedelta(minutes=15)


def khalti(settings: Settings) -> Khalti:
    assert settings.khalti_secret_key
    return Khalti(settings.khalti_base_url, settings.khalti_secret_key, settings.gateway_timeout_seconds)


def esewa(settings: Settings) -> Esewa:
    assert settings.esewa_secret_key and settings.esewa_product_code
    return Esewa(
        settings.esewa_form_url,
        settings.esewa_status_url,
        settings.esewa_product_code,
        settings.esewa_secret_key,
        settings.gateway_timeout_seconds,
    )


def link_urls(settings: Settings, token: str) -> dict[str, str]:
    """The links a retailer taps, one per configured gateway (none configured: none)."""
    return {gw: f"{settings.public_base_url}/pay/{token}/{gw}" for gw in settings.payment_gateways}


def _require(settings: Settings, gateway: str) -> None:
    if gateway not in settings.payment_gateways:
        raise InvalidInput(f"{gateway} is not set up for payments here")


def start_khalti(session: Session, settings: Settings, token: str) -> tuple[str | None, PaymentRequest]:
    """The Khalti page to send the payer to: the one started before while it may still be paid,
    else a new one. A payment Khalti already settled on it is settled here first and no page is
    given (None): a link is never started twice over money already taken."""
    _require(settings, "khalti")
    request = pr.choose_gateway(session, token, "khalti")
    client = khalti(settings)
    if request.gateway_ref:
        verdict = client.lookup(request.gateway_ref)
        if verdict.outcome != pr.PENDING:
            pr.settle(session, request.id, verdict)
            return None, request
        if request.gateway_url:
            return request.gateway_url, request
    base = settings.public_base_url
    started = client.initiate(
        amount=request.amount,
        purchase_order_id=request.token,
        purchase_order_name=f"Thok khata payment {request.id}",
        return_url=f"{base}/pay/khalti/return",
        website_url=f"{base}/",
    )
    pr.gateway_started(session, request, started.pidx, started.payment_url)
    return started.payment_url, request


@dataclass(frozen=True)
class EsewaForm:
    action: str
    fields: dict[str, str]


def esewa_form(session: Session, settings: Settings, token: str) -> EsewaForm:
    _require(settings, "esewa")
    request = pr.choose_gateway(session, token, "esewa")
    base = settings.public_base_url
    client = esewa(settings)
    fields = client.form(
        amount=request.amount,
        transaction_uuid=request.token,
        success_url=f"{base}/pay/esewa/success",
        failure_url=f"{base}/pay/esewa/failure?t={request.token}",
    )
    return EsewaForm(client.form_url, fields)


def khalti_returned(session: Session, settings: Settings, pidx: str) -> PaymentRequest:
    """The payer is back from Khalti: what the return says is not signed, so look it up."""
    _require(settings, "khalti")
    request = pr.by_gateway_ref(session, "khalti", pidx)
    return pr.settle(session, request.id, khalti(settings).lookup(pidx))


def esewa_returned(session: Session, settings: Settings, data: str) -> PaymentRequest:
    """eSewa's success redirect: its signature first (BadSignature), then the status check."""
    _require(settings, "esewa")
    client = esewa(settings)
    fields = client.read_success(data)
    request = pr.by_token(session, str(fields.get("transaction_uuid")))
    if request.gateway != "esewa":
        raise InvalidInput("this payment was not started with eSewa")
    return pr.settle(session, request.id, client.status(transaction_uuid=request.token, total_amount=request.amount))


def esewa_failed(session: Session, settings: Settings, token: str) -> PaymentRequest:
    """eSewa's failure redirect (cancelled, or failed): unsigned, so the status check decides."""
    _require(settings, "esewa")
    request = pr.by_token(session, token)
    if request.gateway != "esewa" or request.status != "OPEN":
        return request
    verdict = esewa(settings).status(transaction_uuid=request.token, total_amount=request.amount)
    if verdict.outcome == pr.EXPIRED:  # NOT_FOUND after the payer left eSewa: they did not pay
        verdict = pr.Verdict(pr.CANCELLED, verdict.gateway_status)
    return pr.settle(session, request.id, verdict)


def check(session: Session, settings: Settings, request: PaymentRequest, now: datetime | None = None) -> str:
    """The lookup job's step for one open request: ask its gateway; expire it when its time is up
    and the gateway does not say it was paid. Returns the request's status after."""
    now = now or datetime.now(UTC)
    verdict: pr.Verdict | None = None
    try:
        if request.gateway == "khalti" and request.gateway_ref and "khalti" in settings.payment_gateways:
            verdict = khalti(settings).lookup(request.gateway_ref)
        elif request.gateway == "esewa" and "esewa" in settings.payment_gateways:
            verdict = esewa(settings).status(transaction_uuid=request.token, total_amount=request.amount)
    except GatewayTimeout as exc:
        log.warning("payment request %s: %s; asking again next round", request.id, exc)
        return request.status  # not expired on a silent gateway: it may have been paid
    except GatewayError as exc:
        log.warning("payment request %s: %s", request.id, exc)
    unpaid_yet = request.gateway == "esewa" and now < request.expires_at
    if verdict is not None and verdict.outcome == pr.EXPIRED and unpaid_yet:
        verdict = None  # eSewa's NOT_FOUND: the payer has not paid yet, and the link still works
    if verdict is not None:
        pr.settle(session, request.id, verdict, now)
    if request.status == "OPEN" and now >= request.expires_at + GRACE:
        pr.expire(session, request.id, now)
    return request.status
