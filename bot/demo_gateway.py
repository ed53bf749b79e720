"""A pretend Khalti for `thok demo` (dev mode only), so paying the khata can be tried end to end on
one machine: "pay" in the simulator, the link, a payment page with Pay / Cancel, and the balance
drops once. It answers Khalti ePayment's documented calls (POST epayment/initiate/ and
epayment/lookup/ with `Authorization: Key <secret>`, amounts in paisa) under /demo-gateway/khalti,
so Thok's real Khalti client (payments/khalti.py), the return route and the lookup job run as they
would against the sandbox; only the payer's page is ours.

Its state lives in Redis (the demo runs two web processes and a worker that all ask it), a day at
most. `bot.app.create_app` registers it only with dev_mode and THOK_DEMO_GATEWAY both set: a
production process never serves it.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from redis import Redis

from domain.money import npr_for
from handlers.messages import LANGUAGES, t

PREFIX = "/demo-gateway/khalti"
DEMO_KHALTI_KEY = "demo-khalti-secret-key"  # `thok demo` sets KHALTI_SECRET_KEY to this
_KEY = "thok:demo-gateway:khalti:{}"
_TTL = timedelta(days=1)
_EXPIRES_IN = 1800  # seconds, as Khalti's initiate answers
_MIN_PAISA = 1000  # Khalti refuses less than Rs 10


def make_blueprint(redis: Redis, secret_key: str) -> Blueprint:
    bp = Blueprint("demo_gateway", __name__, url_prefix=PREFIX)

    def load(pidx: str) -> dict[str, Any] | None:
        if not pidx.isalnum() or len(pidx) > 64:
            return None
        raw = redis.get(_KEY.format(pidx))
        return json.loads(raw) if raw else None

    def save(pidx: str, payment: dict[str, Any]) -> None:
        redis.set(_KEY.format(pidx), json.dumps(payment), ex=_TTL)

    def authorised() -> bool:
        given = request.headers.get("Authorization", "")
        return secrets.compare_digest(given.encode(), f"Key {secret_key}".encode())

    def body() -> dict[str, Any]:
        found = request.get_json(silent=True)
        return found if isinstance(found, dict) else {}

    @bp.post("/epayment/initiate/")
    def initiate() -> ResponseReturnValue:
        if not authorised():
            return {"detail": "Invalid token.", "status_code": 401}, 401
        data = body()
        amount, return_url = data.get("amount"), data.get("return_url")
        order_id, name = data.get("purchase_order_id"), data.get("purchase_order_name")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < _MIN_PAISA:
            return {
                "amount": ["Amount should be greater than Rs. 10, that is 1000 paisa."],
                "error_key": "validation_error",
            }, 400
        if not isinstance(return_url, str) or not return_url.startswith(("http://", "https://")):
            return {"return_url": ["Enter a valid URL."], "error_key": "validation_error"}, 400
        if not isinstance(order_id, str) or not order_id or not isinstance(name, str) or not name:
            return {"purchase_order_id": ["This field is required."], "error_key": "validation_error"}, 400
        pidx = secrets.token_hex(11)
        expires = datetime.now(UTC) + timedelta(seconds=_EXPIRES_IN)
        save(
            pidx,
            {"amount": amount, "return_url": return_url, "order_id": order_id[:100], "name": name[:200],
             "status": "Initiated", "transaction_id": None},
        )  # fmt: skip
        return {
            "pidx": pidx,
            "payment_url": url_for(".page", pidx=pidx, _external=True),
            "expires_at": expires.isoformat(),
            "expires_in": _EXPIRES_IN,
        }

    @bp.post("/epayment/lookup/")
    def lookup() -> ResponseReturnValue:
        if not authorised():
            return {"detail": "Invalid token.", "status_code": 401}, 401
        pidx = body().get("pidx")
        payment = load(pidx) if isinstance(pidx, str) else None
        if payment is None:
            return {"detail": "Not found.", "error_key": "validation_error"}, 404
        return {
            "pidx": pidx,
            "total_amount": payment["amount"],
            "status": payment["status"],
            "transaction_id": payment["transaction_id"],
            "fee": 0,
            "refunded": False,
        }

    def exempt_api(state: BlueprintSetupState) -> None:
        """Thok's server calls the API with the gateway key, as Khalti's; the payer's form keeps CSRF."""
        csrf = state.app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(initiate)
            csrf.exempt(lookup)

    bp.record_once(exempt_api)

    @bp.get("/pay/<pidx>")
    def page(pidx: str) -> ResponseReturnValue:
        payment = load(pidx)
        if payment is None:
            return _page([(lang, t("pay_page_bad", lang)) for lang in reversed(LANGUAGES)], None, 404)
        amount = Decimal(payment["amount"]) / 100
        if payment["status"] != "Initiated":
            messages = [(lang, t("demo_gateway_done", lang, status=payment["status"])) for lang in reversed(LANGUAGES)]
            return _page(messages, None, 200)
        messages = [
            (lang, t("demo_gateway_page", lang, amount=npr_for(amount, lang), name=payment["name"]))
            for lang in reversed(LANGUAGES)  # Nepali first, as the other pay pages
        ]
        return _page(messages, pidx, 200)

    @bp.post("/pay/<pidx>")
    def pay(pidx: str) -> ResponseReturnValue:
        """The payer's Pay or Cancel: Khalti then sends them back to the return URL with the pidx
        and the status (unsigned; Thok looks it up)."""
        payment = load(pidx)
        action = request.form.get("action")
        if payment is None or action not in ("pay", "cancel"):
            return _page([(lang, t("pay_page_bad", lang)) for lang in reversed(LANGUAGES)], None, 400)
        if payment["status"] == "Initiated":  # a second tap or a reload changes nothing
            if action == "pay":
                payment.update(status="Completed", transaction_id=f"DEMO{secrets.token_hex(8).upper()}")
            else:
                payment.update(status="User canceled")
            save(pidx, payment)
        query = {
            "pidx": pidx,
            "status": payment["status"],
            "transaction_id": payment["transaction_id"] or "",
            "tidx": payment["transaction_id"] or "",
            "amount": payment["amount"],
            "total_amount": payment["amount"],
            "mobile": "98XXXXX000",
            "purchase_order_id": payment["order_id"],
            "purchase_order_name": payment["name"],
        }
        sep = "&" if "?" in payment["return_url"] else "?"
        return redirect(f"{payment['return_url']}{sep}{urlencode(query)}", 303)

    return bp


def _page(messages: list[tuple[str, str]], pidx: str | None, status: int) -> ResponseReturnValue:
    return render_template("demo_gateway.html", messages=messages, pidx=pidx, t=t), status
