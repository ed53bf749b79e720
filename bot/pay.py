"""The pay links (issue 17): the page a retailer's "pay" link opens, and the gateways' returns.

Thin: each route turns the request into one use case of payments/links.py inside a unit of work,
writes the notices it recorded to the outbox before the commit and queues them after, and answers
with a small page in both languages (the payer's browser tells us nothing of who they are). No
route trusts what the browser brings: Khalti's return is looked up, eSewa's is signature-checked
and then confirmed with its status API.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from db.models import PaymentRequest
from domain.errors import DomainError, NotFound
from domain.money import npr_for
from domain.payment_requests import LinkClosed
from handlers.messages import LANGUAGES, t
from payments import GatewayError, links
from payments.esewa import BadSignature
from thok.web import services
from workers import effects

log = logging.getLogger(__name__)
bp = Blueprint("pay", __name__)
T = TypeVar("T")
_TOKEN = re.compile(r"[0-9a-f]{32}")
_METHOD = {"khalti": "Khalti", "esewa": "eSewa"}


def _in_uow(fn: Callable[[Session], T]) -> T:
    svc = services()
    with svc.database.unit_of_work() as uow:
        result = fn(uow.session)
        done = effects.collect(uow.session, svc.settings)
        uow.commit()
    effects.apply(done, svc.redis, svc.settings)
    return result


def _page(key: str, status: int = 200, form: Any = None, **kw: str) -> ResponseReturnValue:
    messages = [(lang, t(key, lang, **kw)) for lang in reversed(LANGUAGES)]  # Nepali first
    return render_template("pay.html", messages=messages, form=form), status


def _outcome(req: PaymentRequest) -> ResponseReturnValue:
    method = _METHOD.get(req.gateway or "", "")
    if req.status == "COMPLETED":
        return _page("pay_page_completed", amount=npr_for(req.amount, "en"))
    if req.status == "OPEN":
        return _page("pay_page_pending", 202, method=method)
    if req.status == "REVIEW":
        return _page("pay_page_review")
    return _page("pay_page_not_done")


def _gateway_trouble(gateway: str, exc: GatewayError) -> ResponseReturnValue:
    log.warning("%s: %s", gateway, exc)
    return _page("pay_page_unavailable", 503, method=_METHOD[gateway])


@bp.get("/pay/<token>/<gateway>")
def open_link(token: str, gateway: str) -> ResponseReturnValue:
    settings = services().settings
    if not _TOKEN.fullmatch(token) or gateway not in settings.payment_gateways:
        return _page("pay_page_bad", 404)
    try:
        if gateway == "khalti":
            url, req = _in_uow(lambda s: links.start_khalti(s, settings, token))
            return redirect(url, 303) if url else _outcome(req)
        form = _in_uow(lambda s: links.esewa_form(s, settings, token))
    except LinkClosed as exc:
        return _page("pay_page_closed", 410, why=str(exc))
    except NotFound:
        return _page("pay_page_bad", 404)
    except GatewayError as exc:
        return _gateway_trouble(gateway, exc)
    response = render_template("pay.html", messages=[("ne", t("pay_page_redirect", "ne"))], form=form)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(form.action))
    # The one page whose form leaves Thok: it may post to eSewa, and nowhere else.
    nonce = g.get("csp_nonce", "")
    policy = (
        f"default-src 'self'; style-src 'self' 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        f"form-action {origin}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )
    return response, 200, {"Content-Security-Policy": policy}


@bp.get("/pay/khalti/return")
def khalti_return() -> ResponseReturnValue:
    settings = services().settings
    pidx = request.args.get("pidx", "")
    if "khalti" not in settings.payment_gateways or not pidx or len(pidx) > 100:
        return _page("pay_page_bad", 400)
    try:
        return _outcome(_in_uow(lambda s: links.khalti_returned(s, settings, pidx)))
    except NotFound:
        return _page("pay_page_bad", 404)
    except GatewayError as exc:  # the lookup job asks again later
        return _gateway_trouble("khalti", exc)


@bp.get("/pay/esewa/success")
def esewa_success() -> ResponseReturnValue:
    settings = services().settings
    data = request.args.get("data", "")
    if "esewa" not in settings.payment_gateways or not data or len(data) > 4000:
        return _page("pay_page_bad", 400)
    try:
        return _outcome(_in_uow(lambda s: links.esewa_returned(s, settings, data)))
    except BadSignature as exc:
        log.warning("eSewa success with a bad signature: %s", exc)
        return _page("pay_page_bad", 400)
    except (NotFound, DomainError):
        return _page("pay_page_bad", 404)
    except GatewayError as exc:
        return _gateway_trouble("esewa", exc)


@bp.get("/pay/esewa/failure")
def esewa_failure() -> ResponseReturnValue:
    settings = services().settings
    token = request.args.get("t", "")
    if "esewa" not in settings.payment_gateways or not _TOKEN.fullmatch(token):
        return _page("pay_page_bad", 400)
    try:
        return _outcome(_in_uow(lambda s: links.esewa_failed(s, settings, token)))
    except NotFound:
        return _page("pay_page_bad", 404)
    except GatewayError as exc:
        return _gateway_trouble("esewa", exc)
