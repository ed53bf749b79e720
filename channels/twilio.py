"""Twilio's WhatsApp API, the first channel adapter: the outbound side (send text, buttons and lists
through the Content API, templates, documents; the crash-window lookup through Twilio's message
list; the status-callback URL carrying our row id) and the inbound side's parsing (the webhook's
form into Thok's own IncomingMessage, a status callback into a StatusUpdate). The HTTP routes and
Twilio's request signature stay in the web edge (bot.webhook, bot.signature); nothing outside this
module knows Twilio's field names or limits.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

import requests
from redis import Redis
from redis.exceptions import RedisError
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from channels.base import (
    OutgoingMessage,
    PermanentSendError,
    ProviderMessage,
    SendResult,
    StatusUpdate,
    TransientSendError,
    outbound_marker,
)
from channels.content import Interactive, interactive, recorded_sids
from db.models import OutboundStatus
from domain import messaging
from domain.errors import InvalidInput
from domain.phones import mask_phone, whatsapp_sender
from handlers.messages import t
from thok.config import Settings

log = logging.getLogger(__name__)

WHATSAPP_PREFIX = "whatsapp:"
_DEVANAGARI = re.compile("[\u0900-\u097f]")  # a Nepali body gets a Nepali list button
STATUS_PATH = "/webhooks/twilio/status"  # bot.webhook serves it
LOOKUP_CAP = 5000  # messages to one number within one crash window: beyond it, fail loudly, never guess

# Twilio's message statuses -> ours. "sending"/"accepted"/"scheduled" are all "the provider has it".
TWILIO_STATUS: dict[str, OutboundStatus] = {
    "accepted": OutboundStatus.QUEUED,
    "scheduled": OutboundStatus.QUEUED,
    "queued": OutboundStatus.QUEUED,
    "sending": OutboundStatus.QUEUED,
    "sent": OutboundStatus.SENT,
    "delivered": OutboundStatus.DELIVERED,
    "read": OutboundStatus.READ,
    "undelivered": OutboundStatus.UNDELIVERED,
    "failed": OutboundStatus.FAILED,
    "canceled": OutboundStatus.FAILED,
}


class TwilioChannel:
    name = "twilio"
    enforces_session_window = True
    template_setting = "TWILIO_TEMPLATE"
    max_body_chars = 1600  # Twilio refuses a longer WhatsApp body

    def __init__(self, settings: Settings, redis: Redis | None = None):
        assert settings.twilio_configured, "TwilioChannel needs TWILIO_ACCOUNT_SID, _AUTH_TOKEN, _WHATSAPP_FROM"
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            http_client=TwilioHttpClient(timeout=settings.twilio_timeout_seconds),
        )
        if settings.twilio_api_base:
            # Only tests set this (a fake Twilio on loopback); `base_url` is the library's own
            # per-domain attribute, so every URL it builds follows.
            self.client.api.base_url = settings.twilio_api_base.rstrip("/")
        sender = settings.twilio_whatsapp_from or ""
        self.from_ = sender if sender.startswith(WHATSAPP_PREFIX) else WHATSAPP_PREFIX + sender
        self.redis = redis  # where `thok content sync` recorded the content SIDs
        self.public_base_url = settings.public_base_url

    def status_callback(self, outbound_id: int) -> str | None:
        """Where Twilio reports this message's statuses: our row id rides along (`?ob=`), so the
        callback finds the row even if the send job never records Twilio's SID."""
        if not self.public_base_url:
            return None
        return f"{self.public_base_url}{STATUS_PATH}?ob={outbound_id}"

    def _interactive(self, message: OutgoingMessage) -> Interactive | None:
        """Buttons or a list for a free-form message that offers choices, if the definitions are
        synced; otherwise the text goes as it is (it names the same choices)."""
        if not message.choices or self.redis is None or message.media_url:
            return None
        try:
            sids = recorded_sids(self.redis)
        except RedisError:
            return None  # the text still works; the send must not wait on this
        button = t("list_button", "ne" if _DEVANAGARI.search(message.body) else "en")
        return interactive(message.body, message.choices, sids, list_button=button)

    def send(self, message: OutgoingMessage) -> SendResult:
        kwargs: dict[str, Any] = {"from_": self.from_, "to": WHATSAPP_PREFIX + message.to}
        if callback := self.status_callback(message.outbound_id):
            kwargs["status_callback"] = callback
        shown = None if message.content_sid else self._interactive(message)
        if message.content_sid:
            kwargs["content_sid"] = message.content_sid
            kwargs["content_variables"] = json.dumps(message.content_variables or {}, ensure_ascii=False)
        elif shown is not None:
            kwargs["content_sid"] = shown.content_sid
            kwargs["content_variables"] = json.dumps(shown.variables, ensure_ascii=False)
        else:
            kwargs["body"] = message.body
            if message.media_url:  # WhatsApp shows it as a document, the body as its caption
                kwargs["media_url"] = [message.media_url]
        try:
            created = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            raise _classify(exc) from exc
        except requests.RequestException as exc:
            raise TransientSendError(f"network: {type(exc).__name__}", maybe_sent=True) from exc
        return SendResult(str(created.sid), TWILIO_STATUS.get(str(created.status), OutboundStatus.QUEUED))

    def sent_since(self, to: str, since: datetime) -> list[ProviderMessage]:
        found: list[ProviderMessage] = []
        try:
            # Newest first, page by page, until one older than `since`: a fixed "last 20" missed an
            # earlier attempt when 20 more had gone to the number since (issue 19).
            for sent in self.client.messages.stream(to=WHATSAPP_PREFIX + to, from_=self.from_, page_size=100):
                if sent.date_created is not None and sent.date_created < since:
                    break
                found.append(
                    ProviderMessage(
                        str(sent.sid),
                        str(sent.body or ""),
                        sent.date_created or since,
                        TWILIO_STATUS.get(str(sent.status), OutboundStatus.QUEUED),
                    )
                )
                if len(found) >= LOOKUP_CAP:
                    raise TransientSendError(f"lookup: over {LOOKUP_CAP} messages since the claim", maybe_sent=True)
        except TwilioRestException as exc:
            raise TransientSendError(f"lookup failed: HTTP {exc.status}", maybe_sent=True) from exc
        except requests.RequestException as exc:
            raise TransientSendError(f"lookup failed: {type(exc).__name__}", maybe_sent=True) from exc
        return found

    def mark_read(self, message_sid: str) -> None:
        """Twilio's API has no read receipt or typing indicator for WhatsApp: nothing to do."""


def _classify(exc: TwilioRestException) -> Exception:
    if exc.status == 429:
        return TransientSendError("HTTP 429 rate limited", maybe_sent=False)
    if exc.status >= 500:
        return TransientSendError(f"HTTP {exc.status}", maybe_sent=True)
    return PermanentSendError(str(exc.code) if exc.code else f"HTTP{exc.status}", exc.msg or "refused")


# --- the inbound side: Twilio's webhook form -> Thok's own shapes --------------------------------

MAX_MEDIA = 10  # Twilio's own limit per message
# WhatsApp's own limit on a message, in characters. The limit is on `Body`'s characters, not on the
# request's bytes: form-encoded, a Devanagari character takes 9 bytes (three %XX), a 4-byte one 12.
MAX_BODY_CHARS = 4096
MAX_ENCODED_CHAR_BYTES = 12
MAX_CHOICE_ID = 256  # WhatsApp's longest reply-button id (a list row's is 200)
_SID = re.compile(r"^[A-Za-z0-9]{2,64}$")


class BadRequest(ValueError):
    """A request Twilio would never send; 400, and retrying cannot fix it."""


def form_byte_limit(other_fields_bytes: int) -> int:
    """The request's byte cap: the longest Body WhatsApp can send, fully encoded, plus room for
    the other fields (MAX_BODY_BYTES). Only a guard against floods; Body's limit is in characters."""
    return MAX_BODY_CHARS * MAX_ENCODED_CHAR_BYTES + other_fields_bytes


def incoming_message(form: dict[str, str]) -> messaging.IncomingMessage:
    missing = [name for name in ("MessageSid", "From", "Body") if name not in form]
    if missing:
        raise BadRequest(f"missing field(s) {', '.join(missing)}")
    if not _SID.match(form["MessageSid"]):
        raise BadRequest("malformed MessageSid")
    try:
        # Nothing is stored for, or ever sent to, an address that is not a real WhatsApp number.
        sender = whatsapp_sender(form["From"])
    except InvalidInput as exc:
        raise BadRequest(f"From: {exc}") from None  # not the value itself: logs carry no raw numbers
    if len(form["Body"]) > MAX_BODY_CHARS:
        raise BadRequest(f"Body of {len(form['Body'])} characters is over WhatsApp's {MAX_BODY_CHARS}")
    try:
        num_media = int(form.get("NumMedia") or 0)
    except ValueError:
        raise BadRequest("NumMedia is not a number") from None
    if not 0 <= num_media <= MAX_MEDIA:
        raise BadRequest(f"NumMedia {num_media} out of range")
    media = [form[f"MediaUrl{i}"] for i in range(num_media) if form.get(f"MediaUrl{i}")]
    if len(media) != num_media:
        raise BadRequest("NumMedia does not match the MediaUrl fields")
    log.debug("inbound %s from %s", form["MessageSid"], mask_phone(sender))
    return messaging.IncomingMessage(
        message_sid=form["MessageSid"],
        from_number=sender,
        to_number=(form.get("To") or None) and form["To"][:40],
        body=form["Body"],
        wa_id=(form.get("WaId") or None) and form["WaId"][:40],
        profile_name=(form.get("ProfileName") or None) and form["ProfileName"][:200],
        media_urls=media,
        button_payload=_choice_id(form),
        button_text=form.get("ButtonText") or form.get("ListTitle") or None,
    )


def _choice_id(form: dict[str, str]) -> str | None:
    """A tapped reply button (ButtonPayload) or list row (ListId): the id Thok gave it is the command
    it stands for, and the worker reads it instead of the title WhatsApp puts in Body."""
    payload = form.get("ButtonPayload") or form.get("ListId") or None
    if payload is not None and len(payload) > MAX_CHOICE_ID:
        raise BadRequest(f"ButtonPayload/ListId of {len(payload)} characters is over {MAX_CHOICE_ID}")
    return payload


def status_update(form: dict[str, str], marker: str) -> StatusUpdate | None:
    """A status callback's form (and our `?ob=` marker) in Thok's terms; None for a status Thok does
    not track. BadRequest when it is not a status callback at all."""
    sid, reported = form.get("MessageSid", ""), form.get("MessageStatus", "").lower()
    if not _SID.match(sid) or not reported:
        raise BadRequest("status callback without MessageSid or MessageStatus")
    new_status = TWILIO_STATUS.get(reported)
    if new_status is None:
        log.info("status %r for %s ignored", reported, sid)
        return None
    return StatusUpdate(
        provider_sid=sid,
        reported=reported,
        status=new_status,
        outbound_id=outbound_marker(marker),
        error_code=form.get("ErrorCode") or None,
        error_message=form.get("ErrorMessage") or None,
    )
