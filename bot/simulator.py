"""The local chat simulator (demo only): type as a seeded retailer or wholesaler, see Thok answer.

Messages go through the real, signed webhook path — store, queue, worker, outbox — exactly as a
Twilio delivery would; only the final hop differs (SimulatorChannel marks the row SENT and this
page shows it). Served in dev mode only: in production it would let anyone write as any party.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from bot.app import services
from bot.channel import WHATSAPP_PREFIX
from bot.signature import SIGNATURE_HEADER, sign
from domain import messaging
from domain.errors import InvalidInput
from domain.phones import normalize_phone

bp = Blueprint("simulator", __name__)
WEBHOOK_PATH = "/webhooks/twilio/whatsapp"
SIMULATED_BOT_NUMBER = "whatsapp:+14155238886"  # Twilio's sandbox number, when none is configured
SHOWN = {"SENT", "DELIVERED", "READ", "FAILED", "UNDELIVERED"}


@bp.before_request
def only_in_demo() -> None:
    settings = services().settings
    if not settings.dev_mode:
        abort(404)


@bp.get("/simulator")
def page() -> str:
    with services().database.session() as session:
        parties = messaging.known_parties(session)
    return render_template("simulator.html", parties=parties)


@bp.post("/simulator/send")
def send() -> ResponseReturnValue:
    try:
        phone = normalize_phone(request.form.get("phone", ""))
    except InvalidInput as exc:
        return jsonify(error=str(exc)), 400
    body = request.form.get("body", "")
    settings = services().settings
    form = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": settings.twilio_account_sid or "AC" + "0" * 32,
        "From": WHATSAPP_PREFIX + phone,
        "To": settings.twilio_whatsapp_from or SIMULATED_BOT_NUMBER,
        "Body": body,
        "WaId": phone.lstrip("+"),
        "ProfileName": "Simulator",
        "NumMedia": "0",
    }
    headers = {}
    if settings.twilio_auth_token:
        # Sign exactly as Twilio would, over the URL the webhook will reconstruct.
        base = settings.public_base_url or request.host_url.rstrip("/")
        headers[SIGNATURE_HEADER] = sign(base + WEBHOOK_PATH, form, settings.twilio_auth_token)
    response = current_app.test_client().post(
        WEBHOOK_PATH, data=form, headers=headers, base_url=request.host_url, environ_base=_client_environ()
    )
    return jsonify(status=response.status_code, message_sid=form["MessageSid"]), (
        202 if response.status_code == 200 else response.status_code
    )


@bp.get("/simulator/messages")
def conversation() -> ResponseReturnValue:
    try:
        phone = normalize_phone(request.args.get("phone", ""))
    except InvalidInput as exc:
        return jsonify(error=str(exc)), 400
    after_in = request.args.get("after_in", 0, type=int)
    after_out = request.args.get("after_out", 0, type=int)
    with services().database.session() as session:
        rows = messaging.conversation(session, phone, after_in, after_out)
        return jsonify(
            inbound=[
                {"id": m.id, "body": m.body, "at": m.received_at.isoformat(), "status": m.status.value}
                for m in rows["inbound"]
            ],
            outbound=[_outbound(m) for m in rows["outbound"]],
        )


def _outbound(m: Any) -> dict[str, Any]:
    return {
        "id": m.id,
        "body": m.body,
        "media_url": m.media_url,
        "status": m.status.value,
        "shown": m.status.value in SHOWN,
        "error": m.error_message,
        "at": m.created_at.isoformat(),
    }


def _client_environ() -> dict[str, str]:
    return {"REMOTE_ADDR": request.remote_addr or "127.0.0.1"}
