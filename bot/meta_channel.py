"""Meta's Cloud API as the outbound channel: Graph API `POST /{phone-number-id}/messages`.

Text, reply buttons and lists (from the same provider-neutral choices the Twilio channel turns into
Content API definitions; here they are sent inline, nothing to sync), documents (the PDF statement,
fetched by Meta from our link) and approved templates outside the 24-hour window
(META_TEMPLATE_<KIND>=name[:language], the outbox's numbered variables as the body's parameters).

Errors (the Graph API's `error.code`):
- 130429 (throughput), 131056 (too many to one user), 4 / 80007 (app or account rate limit): not
  accepted, back off and retry;
- 5xx answered by the Graph API (codes 1, 2, 131000, 131016...): it answered with an error, so the
  message was not accepted; retry;
- a timeout or a dropped connection: Meta may have it. Unlike Twilio, the Graph API cannot list what
  was sent, so the crash-window lookup cannot run: the row's own status webhook (which carries our
  `biz_opaque_callback_data` = `ob=<row id>`) adopts it if Meta sent it; a retry that still finds the
  row unresolved fails it for a person to look at rather than risk a second copy (at most once);
- 131047 (outside the 24-hour window), 131026 (undeliverable) and every other refusal: permanent.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import requests

from bot.channel import (
    OutgoingMessage,
    PermanentSendError,
    ProviderMessage,
    SendResult,
    TransientSendError,
)
from bot.content import BUTTON_TITLE_MAX, INTERACTIVE_BODY_MAX, MAX_BUTTONS, MAX_ROWS, ROW_TITLE_MAX
from db.models import OutboundStatus
from handlers.messages import t
from thok.config import Settings

_DEVANAGARI = re.compile("[\u0900-\u097f]")
RATE_LIMITED = {4, 80007, 130429, 131056}
TEXT_MAX = 4096
CAPTION_MAX = 1024
BUTTON_ID_MAX = 256
ROW_ID_MAX = 200
MAX_ID = 64  # our message_sid / provider_sid columns


def message_key(wamid: str) -> str:
    """The id we store for a Meta message. A `wamid` is ~60 characters today; one longer than our
    64-character column becomes a digest of itself, the same every time, so duplicates still collide
    and a status report for it finds the row."""
    if len(wamid) <= MAX_ID:
        return wamid
    return "wamid#" + hashlib.sha256(wamid.encode()).hexdigest()[: MAX_ID - 6]


class MetaChannel:
    name = "meta"
    enforces_session_window = True

    def __init__(self, settings: Settings):
        assert settings.meta_configured, "MetaChannel needs META_ACCESS_TOKEN and META_PHONE_NUMBER_ID"
        self.url = f"{settings.meta_graph_url.rstrip('/')}/{settings.meta_phone_number_id}/messages"
        self.timeout = settings.twilio_timeout_seconds  # one HTTP call's timeout, whichever provider
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {settings.meta_access_token}"

    def send(self, message: OutgoingMessage) -> SendResult:
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.to.lstrip("+"),
            # Comes back on every status webhook: the row is found even if this job never records
            # the wamid (it died, or the answer was lost).
            "biz_opaque_callback_data": f"ob={message.outbound_id}",
            **graph_message(message),
        }
        try:
            answer = self.http.post(self.url, json=payload, timeout=self.timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientSendError(f"network: {type(exc).__name__}", maybe_sent=True) from exc
        except requests.RequestException as exc:
            raise TransientSendError(f"network: {type(exc).__name__}", maybe_sent=False) from exc
        if answer.status_code >= 400:
            raise classify(answer)
        try:
            wamid = str(answer.json()["messages"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise TransientSendError(f"HTTP {answer.status_code} without a message id", maybe_sent=True) from None
        return SendResult(message_key(wamid), OutboundStatus.QUEUED)

    def sent_since(self, to: str, since: datetime) -> list[ProviderMessage]:
        """The Graph API has no list of sent messages: a row still unresolved after an attempt that
        may have gone through is failed with the reason, never sent a second time."""
        raise PermanentSendError(
            "unknown",
            "an earlier attempt may have been sent (timeout); Meta cannot list sent messages and no status "
            "webhook has arrived for it, so it is not resent",
        )


def classify(answer: requests.Response) -> Exception:
    try:
        error = answer.json().get("error") or {}
    except ValueError:
        error = {}
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    reason = str(details or error.get("message") or f"HTTP {answer.status_code}")[:500]
    if code in RATE_LIMITED or answer.status_code == 429:
        return TransientSendError(f"{code or 'HTTP 429'} rate limited: {reason}", maybe_sent=False)
    if answer.status_code >= 500:
        return TransientSendError(f"HTTP {answer.status_code} ({code}): {reason}", maybe_sent=False)
    return PermanentSendError(str(code) if code is not None else f"HTTP{answer.status_code}", reason)


def graph_message(message: OutgoingMessage) -> dict[str, Any]:
    """The message's own part of the Graph API request."""
    if message.content_sid:  # an approved template, outside the 24-hour window
        return {"type": "template", "template": template(message.content_sid, message.content_variables or {})}
    if message.media_url:  # WhatsApp shows it as a document, the body as its caption
        document = {"link": message.media_url, "caption": message.body[:CAPTION_MAX]}
        if message.media_url.split("?")[0].endswith(".pdf"):
            document["filename"] = "statement.pdf"
        return {"type": "document", "document": document}
    shown = interactive(message.body, message.choices)
    if shown is not None:
        return {"type": "interactive", "interactive": shown}
    return {"type": "text", "text": {"body": message.body[:TEXT_MAX], "preview_url": False}}


def template(spec: str, variables: dict[str, Any]) -> dict[str, Any]:
    """`name[:language]` and the outbox's numbered variables {"1": ..., "2": ...} as the body's."""
    name, _, language = spec.partition(":")
    numbered = sorted((int(k), str(v)) for k, v in variables.items() if str(k).isdigit())
    found: dict[str, Any] = {"name": name, "language": {"code": language or "en"}}
    if numbered:
        found["components"] = [{"type": "body", "parameters": [{"type": "text", "text": v} for _, v in numbered]}]
    return found


def interactive(body: str, choices: tuple[tuple[str, str], ...]) -> dict[str, Any] | None:
    """Reply buttons (up to 3 short titles) or a list (up to 10 rows); None: plain text, whose body
    already names every choice as a typed answer."""
    if not choices or len(body) > INTERACTIVE_BODY_MAX or len(choices) > MAX_ROWS:
        return None
    if any(not cid or not title for cid, title in choices):
        return None
    if len(choices) <= MAX_BUTTONS and all(
        len(title) <= BUTTON_TITLE_MAX and len(cid) <= BUTTON_ID_MAX for cid, title in choices
    ):
        buttons = [{"type": "reply", "reply": {"id": cid, "title": title}} for cid, title in choices]
        return {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}}
    if not all(len(title) <= ROW_TITLE_MAX and len(cid) <= ROW_ID_MAX for cid, title in choices):
        return None
    label = t("list_button", "ne" if _DEVANAGARI.search(body) else "en")[:BUTTON_TITLE_MAX]
    rows = [{"id": cid, "title": title} for cid, title in choices]
    return {
        "type": "list",
        "body": {"text": body},
        "action": {"button": label, "sections": [{"title": label, "rows": rows}]},
    }
