"""The local chat simulator (demo only): write as a seeded retailer or wholesaler, see Thok answer,
tap its buttons and lists as on a phone.

Messages go through the real, signed webhook path of the provider WHATSAPP_PROVIDER names — store,
queue, worker, outbox — exactly as a delivery from it would: with Twilio a form (a tapped button or
list row as ButtonPayload / ListId, the title as Body), with Meta's Cloud API the JSON Meta posts
(an interactive button_reply / list_reply), signed with the app secret. Only the final hop differs:
SimulatorChannel marks the row SENT, this page shows it, and "read" comes back through the same
provider's status webhook when the page has shown it, so the ticks are the ones the dashboard sees.
Served in dev mode only: in production it would let anyone write as any party.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select

from bot import meta_webhook
from bot.signature import SIGNATURE_HEADER, sign
from channels import meta
from channels.twilio import WHATSAPP_PREFIX, BadRequest, incoming_message
from db.models import OutboundMessage, OutboundStatus
from domain import messaging
from domain.errors import InvalidInput
from domain.phones import normalize_phone
from thok.web import services

bp = Blueprint("simulator", __name__)
WEBHOOK_PATH = "/webhooks/twilio/whatsapp"
STATUS_PATH = "/webhooks/twilio/status"
SIMULATED_BOT_NUMBER = "whatsapp:+14155238886"  # Twilio's sandbox number, when none is configured
SHOWN = {"SENT", "DELIVERED", "READ", "FAILED", "UNDELIVERED"}
SCRIPT = Path(__file__).parent / "static" / "simulator.js"
TAPS = {"button": ("ButtonPayload", "ButtonText"), "list": ("ListId", "ListTitle")}


@bp.before_request
def only_in_demo() -> None:
    settings = services().settings
    if not settings.dev_mode:
        abort(404)


@bp.get("/simulator")
def page() -> str:
    with services().database.session() as session:
        parties = messaging.known_parties(session)
    # Inline, under this response's CSP nonce (the file is the source, kept as plain JS).
    script = Markup(SCRIPT.read_text(encoding="utf-8"))  # noqa: S704 - our own file, not input
    return render_template("simulator.html", parties=parties, script=script)


@bp.post("/simulator/send")
def send() -> ResponseReturnValue:
    try:
        phone = normalize_phone(request.form.get("phone", ""))
    except InvalidInput as exc:
        return jsonify(error=str(exc)), 400
    body = request.form.get("body", "")
    settings = services().settings
    if settings.whatsapp_provider == "meta":
        return _send_as_meta(phone, body)
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
    tap = TAPS.get(request.form.get("tap", ""))
    if tap is not None:  # a reply button or list row: our id, and its title as the text
        form[tap[0]], form[tap[1]] = request.form.get("payload", ""), body
    try:
        # The webhook's own check, run here first so the page can say why a send is refused (the
        # webhook answers Twilio with a bare 400 and logs the reason).
        incoming_message(form)
    except BadRequest as exc:
        return jsonify(error=str(exc), status=400), 400
    response = _post_signed(WEBHOOK_PATH, form)
    if response.status_code != 200:
        return jsonify(error=f"the webhook refused it (HTTP {response.status_code})"), response.status_code
    return jsonify(status=response.status_code, message_sid=form["MessageSid"]), 202


@bp.get("/simulator/messages")
def conversation() -> ResponseReturnValue:
    g.quiet_log = True  # polled every second or two: not an INFO line each time
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


@bp.post("/simulator/read")
def read() -> ResponseReturnValue:
    """The phone has shown these messages: report "delivered" then "read" through the status
    webhook, as WhatsApp does, so the ticks turn blue here and on the dashboard."""
    g.quiet_log = True
    try:
        phone = normalize_phone(request.form.get("phone", ""))
    except InvalidInput as exc:
        return jsonify(error=str(exc)), 400
    with services().database.session() as session:
        sids = session.scalars(
            select(OutboundMessage.provider_sid).where(
                OutboundMessage.to_number == phone,
                OutboundMessage.status.in_([OutboundStatus.SENT, OutboundStatus.DELIVERED]),
                OutboundMessage.provider_sid.is_not(None),
            )
        ).all()
    meta_provider = services().settings.whatsapp_provider == "meta"
    for sid in sids:
        for status in ("delivered", "read"):
            if meta_provider:
                _post_meta(_meta_payload({"statuses": [{"id": str(sid), "status": status, "recipient_id": phone[1:]}]}))
            else:
                _post_signed(STATUS_PATH, {"MessageSid": str(sid), "MessageStatus": status})
    return jsonify(read=len(sids))


META_TAPS = {"button": "button_reply", "list": "list_reply"}


def _send_as_meta(phone: str, body: str) -> ResponseReturnValue:
    """The message as Meta's Cloud API posts it: text, or a tapped reply button / list row."""
    wamid = "wamid.SIM" + uuid.uuid4().hex
    message: dict[str, Any] = {"from": phone.lstrip("+"), "id": wamid, "timestamp": "0"}
    tap = META_TAPS.get(request.form.get("tap", ""))
    if tap is not None:
        chosen = {"id": request.form.get("payload", ""), "title": body}
        message |= {"type": "interactive", "interactive": {"type": tap, tap: chosen}}
    else:
        message |= {"type": "text", "text": {"body": body}}
    contacts = [{"profile": {"name": "Simulator"}, "wa_id": phone.lstrip("+")}]
    # The adapter's own reading, first, so the page can say why a send would be skipped.
    parsed = meta.incoming(message, contacts)
    if parsed is None or len(body) > meta.MAX_BODY_CHARS:
        return jsonify(error="Meta's webhook would skip this message", status=400), 400
    response = _post_meta(_meta_payload({"contacts": contacts, "messages": [message]}))
    if response.status_code != 200:
        return jsonify(error=f"the webhook refused it (HTTP {response.status_code})"), response.status_code
    return jsonify(status=response.status_code, message_sid=parsed.message.message_sid), 202


def _meta_payload(value: dict[str, Any]) -> dict[str, Any]:
    settings = services().settings
    metadata = {"display_phone_number": "", "phone_number_id": settings.meta_phone_number_id or "simulator"}
    change = {"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": metadata, **value}}
    return {"object": "whatsapp_business_account", "entry": [{"id": "simulator", "changes": [change]}]}


def _post_meta(payload: dict[str, Any]) -> Any:
    settings = services().settings
    raw = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if settings.meta_app_secret:  # signed exactly as Meta signs, over the raw body
        headers[meta.SIGNATURE_HEADER] = meta.sign(raw, settings.meta_app_secret)
    return current_app.test_client().post(
        meta_webhook.PATH, data=raw, headers=headers, base_url=request.host_url, environ_base=_client_environ()
    )


def _post_signed(path: str, form: dict[str, str]) -> Any:
    settings = services().settings
    headers = {}
    if settings.twilio_auth_token:
        # Sign exactly as Twilio would, over the URL the webhook will reconstruct.
        base = settings.public_base_url or request.host_url.rstrip("/")
        headers[SIGNATURE_HEADER] = sign(base + path, form, settings.twilio_auth_token)
    return current_app.test_client().post(
        path, data=form, headers=headers, base_url=request.host_url, environ_base=_client_environ()
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
        "choices": [{"id": cid, "title": title} for cid, title in messaging.choices_of(m)],
    }


def _client_environ() -> dict[str, str]:
    return {"REMOTE_ADDR": request.remote_addr or "127.0.0.1"}
