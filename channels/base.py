"""What every provider adapter speaks: the outgoing message, the send's result and errors, the
status report, and the Channel protocol the send job calls. Thok's own inbound message shape is
domain.messaging.IncomingMessage (the store keeps it); an adapter's inbound side builds one from
its provider's payload.

A channel only talks to the provider: it does not touch the database. The send job decides what
to send and records the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from db.models import OutboundStatus


@dataclass(frozen=True)
class OutgoingMessage:
    outbound_id: int
    to: str  # E.164
    body: str
    content_sid: str | None = None  # the approved template (Twilio's content SID, Meta's name[:language])
    content_variables: dict[str, Any] | None = None
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


@dataclass(frozen=True)
class StatusUpdate:
    """One provider report on a message we sent, in Thok's terms (the status webhooks apply it)."""

    provider_sid: str
    reported: str  # the provider's own word, for the log and the error text
    status: OutboundStatus
    outbound_id: int | None = None  # our row id, when the provider echoes our marker back
    error_code: str | None = None
    error_message: str | None = None


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
    template_setting: str  # where an approved template for a kind is configured, for the failure text
    max_body_chars: int  # the longest text the provider sends as one message (the outbox splits below it)

    def send(self, message: OutgoingMessage) -> SendResult: ...

    def sent_since(self, to: str, since: datetime) -> list[ProviderMessage]:
        """Every message the provider accepted from our sender to `to` since `since`, newest first:
        all of them, however many (the send job decides which, if any, is an earlier attempt's)."""
        ...

    def mark_read(self, message_sid: str) -> None:
        """Tell the sender their message was read and a reply is being written (blue ticks, typing
        dots) where the provider can; best effort, never raises."""
        ...


def outbound_marker(raw: str) -> int | None:
    """Our outbound row id echoed back by a provider (`?ob=` on Twilio's callback URL, `ob=` in
    Meta's opaque data); anything that is not a BIGINT id is ignored (the provider id still finds
    the message), never sent to PostgreSQL to overflow there."""
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**63 else None
