"""The messaging channel behind a small interface: Twilio's WhatsApp API in production, the local
chat simulator in the demo. Another provider (Meta Cloud API, Viber) is one more class here;
handlers and domain code never see which one is in use.

A channel only talks to the provider: it does not touch the database. The send job decides what
to send and records the result.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import requests
from redis import Redis
from redis.exceptions import RedisError
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.content import Interactive, interactive, recorded_sids
from db.models import OutboundStatus
from handlers.messages import t
from thok.config import WORKER_NEEDS, Settings

WHATSAPP_PREFIX = "whatsapp:"
_DEVANAGARI = re.compile("[\u0900-\u097f]")  # a Nepali body gets a Nepali list button
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


@dataclass(frozen=True)
class OutgoingMessage:
    outbound_id: int
    to: str  # E.164
    body: str
    content_sid: str | None = None
    content_variables: dict[str, Any] | None = None
    status_callback: str | None = None
    media_url: str | None = None  # a document the provider fetches and sends with the text
    choices: tuple[tuple[str, str], ...] = ()  # (id, title): buttons or a list where the provider can


@dataclass(frozen=True)
class SendResult:
    provider_sid: str
    status: OutboundStatus


@dataclass(frozen=True)
class ProviderMessage:
    """One message as the provider lists it (for the crash-window lookup)."""

    provider_sid: str
    body: str
    created_at: datetime
    status: OutboundStatus


class TransientSendError(Exception):
    """Try again later (429, 5xx, network). `maybe_sent`: the provider may have accepted it anyway
    (a timeout, a 5xx after the fact), so the next attempt must look before resending."""

    def __init__(self, reason: str, *, maybe_sent: bool):
        super().__init__(reason)
        self.maybe_sent = maybe_sent


class PermanentSendError(Exception):
    """The provider refused for good (e.g. 63016: outside the 24-hour window); do not retry."""

    def __init__(self, code: str | None, reason: str):
        super().__init__(f"{code}: {reason}" if code else reason)
        self.code = code
        self.reason = reason


class Channel(Protocol):
    name: str
    enforces_session_window: bool  # WhatsApp's 24-hour rule

    def send(self, message: OutgoingMessage) -> SendResult: ...

    def sent_since(self, to: str, since: datetime) -> list[ProviderMessage]:
        """Every message the provider accepted from our sender to `to` since `since`, newest first:
        all of them, however many (the send job decides which, if any, is an earlier attempt's)."""
        ...


class TwilioChannel:
    name = "twilio"
    enforces_session_window = True

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
        if message.status_callback:
            kwargs["status_callback"] = message.status_callback
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


def _classify(exc: TwilioRestException) -> Exception:
    if exc.status == 429:
        return TransientSendError("HTTP 429 rate limited", maybe_sent=False)
    if exc.status >= 500:
        return TransientSendError(f"HTTP {exc.status}", maybe_sent=True)
    return PermanentSendError(str(exc.code) if exc.code else f"HTTP{exc.status}", exc.msg or "refused")


class SimulatorChannel:
    """The demo's channel: the simulator page shows outbound rows, so 'sending' is only marking the
    row sent. Idempotent by construction: the SID is derived from our own row id."""

    name = "simulator"
    enforces_session_window = False

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(f"SIM{message.outbound_id:012d}", OutboundStatus.SENT)

    def sent_since(self, to: str, since: datetime) -> list[ProviderMessage]:
        return []


def channel_for(settings: Settings, redis: Redis | None = None) -> Channel:
    if settings.whatsapp_provider == "meta":  # WHATSAPP_PROVIDER: Meta's Cloud API instead of Twilio
        if settings.meta_configured:
            from bot.meta_channel import MetaChannel  # it imports this module's types

            return MetaChannel(settings)
    elif settings.twilio_configured:
        return TwilioChannel(settings, redis)
    # Only the demo "sends" to the simulator: in production it would mark every reply SENT unsent.
    settings.require_production(WORKER_NEEDS)
    return SimulatorChannel()
