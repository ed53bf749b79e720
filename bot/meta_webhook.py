"""Meta's Cloud API webhooks: the subscription handshake, inbound messages and delivery statuses.

Meta calls one URL for everything (`/webhooks/meta/whatsapp`). The POST is checked before it is
parsed: `X-Hub-Signature-256` is `sha256=` + the hex HMAC-SHA256 of the raw body with the app
secret, compared in constant time. Then, as on the Twilio edge (bot/webhook.py, whose storing and
status code this reuses): 403 forged or unsigned, 400 malformed, 503 when PostgreSQL is down (Meta
retries), 200 otherwise, fast. One POST may carry several entries, changes, messages and statuses;
each message is stored once by its `wamid`, and a message Thok cannot place in the batch (no phone
number, an invalid one) is logged and skipped rather than failing the others, which Meta would
redeliver forever.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from typing import Any

from flask import Blueprint, Response, g, request
from sqlalchemy import func, update
from sqlalchemy.exc import InterfaceError, OperationalError

from bot import webhook
from bot.meta_channel import message_key
from db.models import InboundMessage, InboundStatus, OutboundStatus
from domain import messaging
from domain.errors import InvalidInput
from domain.phones import whatsapp_sender
from thok import metrics
from thok.config import Settings
from thok.logging import bind
from thok.web import services

log = logging.getLogger(__name__)
bp = Blueprint("meta_webhooks", __name__)

PATH = "/webhooks/meta/whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_BATCH_BYTES = 1024 * 1024  # Meta batches updates; far more than it sends, still a flood guard

# Meta's message statuses -> ours. "failed" carries errors[].code.
META_STATUS: dict[str, OutboundStatus] = {
    "sent": OutboundStatus.SENT,
    "delivered": OutboundStatus.DELIVERED,
    "read": OutboundStatus.READ,
    "failed": OutboundStatus.FAILED,
}
MEDIA_KINDS = ("image", "audio", "document", "video", "sticker")
_WAMID = re.compile(r"[\x21-\x7e]{1,512}")


class Malformed(ValueError):
    """Not the shape Meta sends; 400, retrying cannot fix it."""


def signature_required(settings: Settings) -> bool:
    """Only the demo's explicit dev mode without an app secret skips the check."""
    return not (settings.dev_mode and not settings.meta_app_secret)


def sign(raw: bytes, secret: str) -> str:
    """What Meta sends in X-Hub-Signature-256 for this body."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def is_signed(raw: bytes, header: str, secret: str | None) -> bool:
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(raw, secret).encode(), header.strip().encode("ascii", "replace"))


@bp.before_request
def _start_clock() -> None:
    g.webhook_started = time.perf_counter()
    request.max_content_length = MAX_BATCH_BYTES  # the app-wide cap is sized for dashboard forms


@bp.after_request
def _count(response: Response) -> Response:
    if response.status_code < 300:
        outcome = g.get("webhook_outcome", "accepted")
    else:
        outcome = {403: "forged", 400: "bad_request", 413: "bad_request"}.get(response.status_code, "error")
    elapsed = time.perf_counter() - g.get("webhook_started", time.perf_counter())
    metrics.observe_webhook("meta", outcome, elapsed)
    return response


@bp.get(PATH)
def handshake() -> Response:
    """Meta's subscription check: echo hub.challenge when hub.verify_token is ours."""
    token = services().settings.meta_verify_token
    given = request.args.get("hub.verify_token", "")
    challenge = request.args.get("hub.challenge", "")
    if (
        request.args.get("hub.mode") != "subscribe"
        or not token
        or not challenge
        or not hmac.compare_digest(given.encode(), token.encode())
    ):
        log.warning("Meta webhook handshake refused (client %s)", request.remote_addr)
        return Response(status=403)
    return Response(challenge, 200, content_type="text/plain")


@bp.post(PATH)
def inbound() -> Response:
    settings = services().settings
    if request.content_length is not None and request.content_length > MAX_BATCH_BYTES:
        return _refuse(400, f"body of {request.content_length} bytes is over {MAX_BATCH_BYTES}")
    raw = request.stream.read(MAX_BATCH_BYTES + 1)
    if len(raw) > MAX_BATCH_BYTES:
        return _refuse(400, f"body over {MAX_BATCH_BYTES} bytes")
    if signature_required(settings) and not is_signed(
        raw, request.headers.get(SIGNATURE_HEADER, ""), settings.meta_app_secret
    ):
        return _refuse(403, f"missing or wrong {SIGNATURE_HEADER} (client {request.remote_addr})")
    try:
        payload = json.loads(raw.decode("utf-8"))
        values = change_values(payload)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError, so is Malformed
        return _refuse(400, f"Meta webhook: {exc}")
    stored = duplicates = statuses = 0
    for value in values:
        contacts = _contacts(value)
        for item in _list(value, "messages"):
            message = incoming(item, contacts)
            if message is None:
                continue
            bind(message_sid=message.message_sid)
            if _acknowledge_only(item):
                stored += _store_acknowledged(message)
            elif webhook.accept(message) is None:
                duplicates += 1
            else:
                stored += 1
        for item in _list(value, "statuses"):
            statuses += _status(item)
    if values and not stored and duplicates:
        g.webhook_outcome = "duplicate"
    log.debug("Meta webhook: %d stored, %d duplicate, %d status(es) applied", stored, duplicates, statuses)
    return Response("", 200, content_type="text/plain")


def change_values(payload: Any) -> list[dict[str, Any]]:
    """The `value` of every `messages` change in every entry."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry", []), list):
        raise Malformed("not a webhook object with an entry list")
    found = []
    for entry in payload.get("entry", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("changes", []), list):
            raise Malformed("an entry without a changes list")
        for change in entry.get("changes", []):
            if not isinstance(change, dict):
                raise Malformed("a change that is not an object")
            if change.get("field", "messages") == "messages" and isinstance(change.get("value"), dict):
                found.append(change["value"])
    return found


def _list(value: dict[str, Any], name: str) -> list[dict[str, Any]]:
    # Lenient past the envelope: a bad part of one change must not lose (or 500) the batch's others.
    items = value.get(name)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _contacts(value: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(c.get("wa_id")): c for c in _list(value, "contacts") if c.get("wa_id")}


def _text(value: Any, limit: int) -> str:
    """A string field as PostgreSQL can hold it: no NUL, no lone surrogate (JSON allows both)."""
    if not isinstance(value, str):
        return ""
    return value[:limit].replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _message_id(value: Any) -> str | None:
    """A wamid as Meta writes it (printable ASCII, no spaces), else None."""
    return value if isinstance(value, str) and _WAMID.fullmatch(value) else None


def incoming(item: dict[str, Any], contacts: dict[str, dict[str, Any]]) -> messaging.IncomingMessage | None:
    """One Meta message as Thok stores it, or None (logged) when it cannot be placed."""
    wamid, sender = _message_id(item.get("id")), item.get("from")
    if wamid is None:
        log.warning("Meta message without a usable id skipped")
        return None
    if not isinstance(sender, str) or not sender:
        # A username user may come with a business-scoped id and no number: Thok keys parties by
        # number, so such a message cannot reach anyone yet (issue 18's identity part).
        log.warning("Meta message %s without a phone number skipped", wamid[:80])
        return None
    try:
        phone = whatsapp_sender("whatsapp:+" + sender.lstrip("+"))
    except InvalidInput as exc:
        log.warning("Meta message %s skipped: from: %s", wamid[:80], exc)
        return None
    kind = item.get("type")
    body, payload, shown = "", None, None
    media: list[str] = []
    if kind == "text":
        body = _text(_obj(item.get("text")).get("body"), webhook.MAX_BODY_CHARS)
    elif kind == "interactive":
        reply = _obj(item.get("interactive"))
        chosen = _obj(reply.get("button_reply") or reply.get("list_reply"))
        payload = _text(chosen.get("id"), webhook.MAX_CHOICE_ID) or None
        body = shown = _text(chosen.get("title"), 200)
    elif kind == "button":  # a template's quick-reply button
        button = _obj(item.get("button"))
        payload = _text(button.get("payload"), webhook.MAX_CHOICE_ID) or None
        body = shown = _text(button.get("text"), 200)
    elif kind in MEDIA_KINDS:
        media_item = _obj(item.get(kind))
        # Stored by Meta's media id (it expires within days; fetching it is not done yet) so the
        # worker answers as for a Twilio photo: Thok cannot read it, please type the order.
        media = [f"meta-media:{_text(media_item.get('id'), 200)}"]
        body = _text(media_item.get("caption"), webhook.MAX_BODY_CHARS)
    profile = _obj(_obj(contacts.get(sender)).get("profile"))
    return messaging.IncomingMessage(
        message_sid=message_key(wamid),
        from_number=phone,
        body=body,
        wa_id=sender[:40],
        profile_name=_text(profile.get("name"), 200) or None,
        media_urls=media,
        button_payload=payload,
        button_text=shown or None,
    )


def _acknowledge_only(item: dict[str, Any]) -> bool:
    """A reaction, a location, a sticker pack, an unsupported or system message: nothing to order."""
    return item.get("type") not in ("text", "interactive", "button", *MEDIA_KINDS)


def _store_acknowledged(message: messaging.IncomingMessage) -> int:
    """Kept for the record, once, and done at once: no job, no reply."""
    with services().database.autocommit() as conn:
        inbound_id = messaging.store_inbound(conn, message)
        if inbound_id is not None:
            conn.execute(
                update(InboundMessage)
                .where(InboundMessage.id == inbound_id)
                .values(status=InboundStatus.PROCESSED, intent="acknowledged", processed_at=func.now())
            )
    metrics.message_in("received" if inbound_id else "duplicate")
    return 1 if inbound_id else 0


def _status(item: dict[str, Any]) -> int:
    wamid, reported = _message_id(item.get("id")), _text(item.get("status"), 20).lower()
    new_status = META_STATUS.get(reported)
    if wamid is None or new_status is None:
        log.info("Meta status %r ignored", reported)
        return 0
    errors = item.get("errors") if isinstance(item.get("errors"), list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = first.get("code")
    code = _text(str(code), 20) if isinstance(code, int | str) and not isinstance(code, bool) else None
    message = _text(first.get("title"), 500) or _text(first.get("message"), 500)
    opaque = _text(item.get("biz_opaque_callback_data"), 64)
    marker = opaque.removeprefix("ob=") if opaque.startswith("ob=") else ""
    moved = webhook.apply_status(
        message_key(wamid),
        reported,
        new_status,
        outbound_id=webhook._outbound_marker(marker),
        error_code=code or None,
        error_message=message or None,
    )
    return 1 if moved else 0


def _refuse(code: int, reason: str) -> Response:
    log.warning("rejected with %d: %s", code, reason)
    return Response(status=code)


@bp.errorhandler(OperationalError)
@bp.errorhandler(InterfaceError)
def database_unavailable(exc: Exception) -> Response:
    log.error("PostgreSQL unavailable, answering 503 so Meta retries: %s", type(exc).__name__)
    return Response("database unavailable", 503, headers={"Retry-After": "5"}, content_type="text/plain")
