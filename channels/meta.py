"""Meta's WhatsApp Cloud API, the second channel adapter.

Inbound side: the webhook's signature (`X-Hub-Signature-256`), its batches (entries, changes,
messages, statuses) turned into Thok's own IncomingMessage and StatusUpdate. The HTTP route stays in
the web edge (bot.meta_webhook).

Outbound side: Graph API `POST /{phone-number-id}/messages`.

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
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from channels.base import (
    OutgoingMessage,
    PermanentSendError,
    ProviderMessage,
    SendResult,
    StatusUpdate,
    TransientSendError,
    outbound_marker,
)
from channels.content import BUTTON_TITLE_MAX, INTERACTIVE_BODY_MAX, MAX_BUTTONS, MAX_ROWS, ROW_TITLE_MAX
from db.models import OutboundStatus
from domain import messaging
from domain.errors import InvalidInput
from domain.phones import whatsapp_sender
from handlers.messages import t
from thok.config import Settings

log = logging.getLogger(__name__)

_DEVANAGARI = re.compile("[\u0900-\u097f]")
RATE_LIMITED = {4, 80007, 130429, 131056}
TEXT_MAX = 4096
CAPTION_MAX = 1024
BUTTON_ID_MAX = 256
ROW_ID_MAX = 200
MAX_ID = 64  # our message_sid / provider_sid columns
DIGEST_PREFIX = "wamid#"
READ_RECEIPT_TIMEOUT = 3.0  # seconds; the read receipt is a courtesy, the reply must not wait on it


def message_key(wamid: str) -> str:
    """The id we store for a Meta message. A `wamid` is ~60 characters today; one longer than our
    64-character column becomes a digest of itself, the same every time, so duplicates still collide
    and a status report for it finds the row."""
    if len(wamid) <= MAX_ID:
        return wamid
    return DIGEST_PREFIX + hashlib.sha256(wamid.encode()).hexdigest()[: MAX_ID - 6]


class MetaChannel:
    name = "meta"
    enforces_session_window = True
    template_setting = "META_TEMPLATE"
    max_body_chars = TEXT_MAX

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
            **recipient(message.to),
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

    def mark_read(self, message_sid: str) -> None:
        """Blue ticks on the sender's message and the typing dots while the reply is written (Meta
        shows them up to 25 seconds or until the reply). Best effort: a failure is logged, never
        raised, and the call is short so it cannot hold the reply up."""
        if message_sid.startswith(DIGEST_PREFIX):
            return  # only a digest of the wamid was kept; Meta needs the id itself
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message_sid,
            "typing_indicator": {"type": "text"},
        }
        try:
            answer = self.http.post(self.url, json=payload, timeout=min(self.timeout, READ_RECEIPT_TIMEOUT))
            if answer.status_code >= 400:
                log.info("read receipt for %s refused: HTTP %s", message_sid[:80], answer.status_code)
        except requests.RequestException as exc:
            log.info("read receipt for %s not sent: %s", message_sid[:80], type(exc).__name__)


def recipient(to: str) -> dict[str, str]:
    """A phone number goes as `to` (digits); a business-scoped user id (a username user with no
    number, e.g. `US.13491208655302741918`) as `recipient`, as the Graph API takes it."""
    if is_bsuid(to):
        return {"recipient": to}
    return {"to": to.lstrip("+")}


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


# --- the inbound side: Meta's webhook -> Thok's own shapes ----------------------------------------

SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_BODY_CHARS = 4096  # WhatsApp's own limit on a message's text
MAX_CHOICE_ID = 256  # WhatsApp's longest reply-button id (a list row's is 200)
MAX_SENDER = 40  # our from_number / wa_id columns
# Meta's message statuses -> ours. "failed" carries errors[].code.
META_STATUS: dict[str, OutboundStatus] = {
    "sent": OutboundStatus.SENT,
    "delivered": OutboundStatus.DELIVERED,
    "read": OutboundStatus.READ,
    "failed": OutboundStatus.FAILED,
}
MEDIA_KINDS = ("image", "audio", "document", "video", "sticker")
ORDERABLE = ("text", "interactive", "button", "order", *MEDIA_KINDS)
MEDIA_PREFIX = "meta-media:"  # how a Meta media id sits among an inbound row's media_urls
_WAMID = re.compile(r"[\x21-\x7e]{1,512}")
# A business-scoped user id: a two-letter country code, a period, then letters and digits (a parent
# BSUID has `ENT.` in the middle), e.g. US.13491208655302741918.
_BSUID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")


class Malformed(ValueError):
    """Not the shape Meta sends; 400, retrying cannot fix it."""


def is_bsuid(value: str) -> bool:
    return bool(_BSUID.fullmatch(value))


def sign(raw: bytes, secret: str) -> str:
    """What Meta sends in X-Hub-Signature-256 for this body."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def is_signed(raw: bytes, header: str, secret: str | None) -> bool:
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(raw, secret).encode(), header.strip().encode("ascii", "replace"))


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


def items(value: dict[str, Any], name: str) -> list[dict[str, Any]]:
    # Lenient past the envelope: a bad part of one change must not lose (or 500) the batch's others.
    found = value.get(name)
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


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


@dataclass(frozen=True)
class SeenIdentity:
    """Who Meta says wrote: the phone number's wa_id and/or the business-scoped user id (BSUID)."""

    wa_id: str | None
    bsuid: str | None
    username: str | None
    profile_name: str | None


@dataclass(frozen=True)
class CartItem:
    product_retailer_id: str  # the catalog's item id: Thok's SKU
    quantity: int


@dataclass(frozen=True)
class MetaInbound:
    """One message of a batch in Thok's terms, with what only Meta sends."""

    message: messaging.IncomingMessage
    identity: SeenIdentity
    media_ids: tuple[str, ...] = ()  # to download at once: Meta's media ids expire
    cart: tuple[CartItem, ...] = ()  # a catalog order's items
    acknowledge_only: bool = False  # a reaction, a location, an unsupported or system message


def contacts_of(value: dict[str, Any]) -> list[dict[str, Any]]:
    return items(value, "contacts")


def _contact_for(contacts: list[dict[str, Any]], wa_id: str, bsuid: str) -> dict[str, Any]:
    for contact in contacts:
        if (wa_id and contact.get("wa_id") == wa_id) or (bsuid and contact.get("user_id") == bsuid):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def incoming(item: dict[str, Any], contacts: list[dict[str, Any]]) -> MetaInbound | None:
    """One Meta message as Thok stores it, or None (logged) when it cannot be placed."""
    wamid = _message_id(item.get("id"))
    if wamid is None:
        log.warning("Meta message without a usable id skipped")
        return None
    wa_id = _text(item.get("from"), 64).lstrip("+")
    bsuid = _text(item.get("from_user_id"), 160)
    contact = _contact_for(contacts, wa_id, bsuid)
    bsuid = bsuid or _text(contact.get("user_id"), 160)
    if bsuid and (not is_bsuid(bsuid) or len(bsuid) > MAX_SENDER):
        log.warning("Meta message %s: business-scoped user id not understood, ignored", wamid[:80])
        bsuid = ""
    if wa_id:
        try:
            sender = whatsapp_sender("whatsapp:+" + wa_id)
        except InvalidInput as exc:
            log.warning("Meta message %s skipped: from: %s", wamid[:80], exc)
            return None
    elif bsuid:
        # A username user who has not shared a number: the BSUID stands where the number would, so
        # the reply goes back to it and a party linked to it (party_identities) is found.
        sender = bsuid
    else:
        log.warning("Meta message %s with neither a phone number nor a user id skipped", wamid[:80])
        return None
    profile = _obj(contact.get("profile"))
    identity = SeenIdentity(
        wa_id=wa_id[:MAX_SENDER] or None,
        bsuid=bsuid or None,
        username=_text(profile.get("username") or contact.get("username"), 100) or None,
        profile_name=_text(profile.get("name"), 200) or None,
    )
    kind = item.get("type")
    body, payload, shown = "", None, None
    media: list[str] = []
    cart: list[CartItem] = []
    if kind == "text":
        body = _text(_obj(item.get("text")).get("body"), MAX_BODY_CHARS)
    elif kind == "interactive":
        reply = _obj(item.get("interactive"))
        chosen = _obj(reply.get("button_reply") or reply.get("list_reply"))
        payload = _text(chosen.get("id"), MAX_CHOICE_ID) or None
        body = shown = _text(chosen.get("title"), 200)
    elif kind == "button":  # a template's quick-reply button
        button = _obj(item.get("button"))
        payload = _text(button.get("payload"), MAX_CHOICE_ID) or None
        body = shown = _text(button.get("text"), 200)
    elif kind == "order":  # a cart sent from the business's catalog
        order = _obj(item.get("order"))
        cart = cart_items(order)
        # Written as an order a person would type, by SKU (the catalog's product_retailer_id is
        # Thok's SKU, which the parser matches as written): the usual summary and confirm follow,
        # and an item Thok does not know is named back like any unknown word.
        typed = "\n".join(f"{c.quantity} {c.product_retailer_id}" for c in cart)
        body = typed or _text(order.get("text"), MAX_BODY_CHARS)
    elif kind in MEDIA_KINDS:
        media_item = _obj(item.get(kind))
        media_id = _message_id(media_item.get("id"))
        media = [MEDIA_PREFIX + media_id[:200]] if media_id else []
        body = _text(media_item.get("caption"), MAX_BODY_CHARS)
    message = messaging.IncomingMessage(
        message_sid=message_key(wamid),
        from_number=sender,
        body=body,
        wa_id=identity.wa_id,
        profile_name=identity.profile_name,
        media_urls=media,
        button_payload=payload,
        button_text=shown or None,
    )
    return MetaInbound(
        message=message,
        identity=identity,
        media_ids=tuple(m.removeprefix(MEDIA_PREFIX) for m in media),
        cart=tuple(cart),
        acknowledge_only=kind not in ORDERABLE,
    )


def cart_items(order: dict[str, Any]) -> list[CartItem]:
    """A catalog order's `product_items` (product_retailer_id, quantity); a malformed item is left
    out, never a guess."""
    found = []
    for product in items(order, "product_items"):
        sku = _text(product.get("product_retailer_id"), 100).strip()
        quantity = product.get("quantity")
        if isinstance(quantity, str) and quantity.isdigit():
            quantity = int(quantity)
        if sku and isinstance(quantity, int) and not isinstance(quantity, bool) and 0 < quantity < 1_000_000:
            found.append(CartItem(sku, quantity))
    return found


def status_update(item: dict[str, Any]) -> StatusUpdate | None:
    """One entry of `statuses` in Thok's terms; None for one Thok does not track or cannot read."""
    wamid, reported = _message_id(item.get("id")), _text(item.get("status"), 20).lower()
    new_status = META_STATUS.get(reported)
    if wamid is None or new_status is None:
        log.info("Meta status %r ignored", reported)
        return None
    errors = item.get("errors") if isinstance(item.get("errors"), list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = first.get("code")
    code = _text(str(code), 20) if isinstance(code, int | str) and not isinstance(code, bool) else None
    message = _text(first.get("title"), 500) or _text(first.get("message"), 500)
    opaque = _text(item.get("biz_opaque_callback_data"), 64)
    marker = opaque.removeprefix("ob=") if opaque.startswith("ob=") else ""
    return StatusUpdate(
        provider_sid=message_key(wamid),
        reported=reported,
        status=new_status,
        outbound_id=outbound_marker(marker),
        error_code=code or None,
        error_message=message or None,
    )


# --- media: Meta's ids expire, so the file is fetched at once ------------------------------------

MAX_MEDIA_BYTES = 16 * 1024 * 1024  # WhatsApp's own cap on audio and video; a bigger file is refused


@dataclass(frozen=True)
class Media:
    media_id: str
    content_type: str
    data: bytes
    sha256: str


class MediaUnavailable(Exception):
    """The media could not be fetched now (expired, refused, too big, network)."""


def download_media(settings: Settings, media_id: str) -> Media:
    """GET /{media-id} (its short-lived URL), then GET that URL, both with the bearer token."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {settings.meta_access_token}"
    timeout = max(settings.twilio_timeout_seconds, 10)
    try:
        meta = http.get(f"{settings.meta_graph_url.rstrip('/')}/{media_id}", timeout=timeout)
        if meta.status_code >= 400:
            raise MediaUnavailable(f"media {media_id}: HTTP {meta.status_code}")
        url = meta.json().get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise MediaUnavailable(f"media {media_id}: no download URL")
        with http.get(url, timeout=timeout, stream=True) as answer:
            if answer.status_code >= 400:
                raise MediaUnavailable(f"media {media_id}: download HTTP {answer.status_code}")
            data = b""
            for chunk in answer.iter_content(64 * 1024):
                data += chunk
                if len(data) > MAX_MEDIA_BYTES:
                    raise MediaUnavailable(f"media {media_id}: over {MAX_MEDIA_BYTES} bytes")
            content_type = answer.headers.get("Content-Type") or str(meta.json().get("mime_type") or "")
    except (requests.RequestException, ValueError) as exc:
        raise MediaUnavailable(f"media {media_id}: {type(exc).__name__}") from exc
    finally:
        http.close()
    return Media(media_id, content_type[:100] or "application/octet-stream", data, hashlib.sha256(data).hexdigest())
