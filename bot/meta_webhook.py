"""Meta's Cloud API webhooks: the subscription handshake, inbound messages and delivery statuses.

Meta calls one URL for everything (`/webhooks/meta/whatsapp`). The POST is checked before it is
parsed: `X-Hub-Signature-256` is `sha256=` + the hex HMAC-SHA256 of the raw body with the app
secret, compared in constant time. Then, as on the Twilio edge (bot/webhook.py, whose storing and
status code this reuses): 403 forged or unsigned, 400 malformed, 503 when PostgreSQL is down (Meta
retries), 200 otherwise, fast. One POST may carry several entries, changes, messages and statuses;
each message is stored once by its `wamid`, and a message Thok cannot place in the batch (no phone
number or user id, an invalid one) is logged and skipped rather than failing the others, which Meta
would redeliver forever. The payload's meaning is the adapter's (channels.meta); this module is
only the HTTP route.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

from flask import Blueprint, Response, g, request
from sqlalchemy import func, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError

from bot import webhook
from channels import meta
from db.models import InboundMessage, InboundStatus
from db.session import Database
from domain import identities, media, messaging
from thok import metrics
from thok.config import Settings
from thok.logging import bind
from thok.web import services

log = logging.getLogger(__name__)
bp = Blueprint("meta_webhooks", __name__)

PATH = "/webhooks/meta/whatsapp"
SIGNATURE_HEADER = meta.SIGNATURE_HEADER
MAX_BATCH_BYTES = 1024 * 1024  # Meta batches updates; far more than it sends, still a flood guard


def signature_required(settings: Settings) -> bool:
    """Only the demo's explicit dev mode without an app secret skips the check."""
    return not (settings.dev_mode and not settings.meta_app_secret)


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
    if signature_required(settings) and not meta.is_signed(
        raw, request.headers.get(SIGNATURE_HEADER, ""), settings.meta_app_secret
    ):
        return _refuse(403, f"missing or wrong {SIGNATURE_HEADER} (client {request.remote_addr})")
    try:
        payload = json.loads(raw.decode("utf-8"))
        values = meta.change_values(payload)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError, so is Malformed
        return _refuse(400, f"Meta webhook: {exc}")
    stored = duplicates = statuses = 0
    for value in values:
        contacts = meta.contacts_of(value)
        for item in meta.items(value, "messages"):
            parsed = meta.incoming(item, contacts)
            if parsed is None:
                continue
            message = parsed.message
            bind(message_sid=message.message_sid)
            # One pooled connection for the sender's ids and the message, each statement still its
            # own commit: a second checkout and isolation switch were a tenth of the request's CPU.
            with services().database.autocommit() as conn:
                _note_identity(conn, parsed)
                if parsed.acknowledge_only:
                    stored += _store_acknowledged(conn, message)
                    continue
                inbound_id, unfinished = webhook.store(conn, message)
            if (queued := webhook.queue_stored(message, inbound_id, unfinished)) is None:
                duplicates += 1
            else:
                stored += 1
                _after_storing(queued, parsed)
        for item in meta.items(value, "statuses"):
            statuses += _status(item)
    if values and not stored and duplicates:
        g.webhook_outcome = "duplicate"
    log.debug("Meta webhook: %d stored, %d duplicate, %d status(es) applied", stored, duplicates, statuses)
    return Response("", 200, content_type="text/plain")


# Work that follows a stored message and must neither hold Meta's answer up nor wait for the reply:
# the read receipt (blue ticks and typing dots) and fetching attached media while its id is fresh.
# Best effort, in this process (a lost receipt or picture changes no trade: the sender is asked to
# type the order either way).
_background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="meta-after-store")
_pending: set[Future[None]] = set()
_pending_lock = threading.Lock()


def _after_storing(inbound_id: int, parsed: meta.MetaInbound) -> None:
    svc = services()
    settings, database = svc.settings, svc.database
    if not settings.meta_configured:
        return  # the demo's simulator stands in for Meta: nobody to tell, nothing to fetch
    tasks: list[Callable[[], None]] = [partial(_mark_read, settings, parsed.message.message_sid)]
    tasks += [partial(_fetch_media, settings, database, inbound_id, media_id) for media_id in parsed.media_ids]
    for task in tasks:
        future = _background.submit(task)
        with _pending_lock:
            _pending.add(future)
        future.add_done_callback(_forget)


def _forget(future: Future[None]) -> None:
    with _pending_lock:
        _pending.discard(future)


def drain(timeout: float = 30) -> None:
    """Wait for the receipts and fetches started so far (tests; a clean shutdown)."""
    with _pending_lock:
        started = list(_pending)
    wait(started, timeout=timeout)


def _mark_read(settings: Settings, message_sid: str) -> None:
    try:
        meta.MetaChannel(settings).mark_read(message_sid)
    except Exception:  # noqa: BLE001 - a courtesy must never surface
        log.info("read receipt for %s failed", message_sid[:80], exc_info=True)


def _fetch_media(settings: Settings, database: Database, inbound_id: int, media_id: str) -> None:
    try:
        found = meta.download_media(settings, media_id)
    except meta.MediaUnavailable as exc:
        log.warning("inbound %s: %s", inbound_id, exc)
        return
    try:
        with database.unit_of_work() as uow:
            media.store_media(uow.session, inbound_id, found.media_id, found.content_type, found.data, found.sha256)
            uow.commit()
    except (OperationalError, InterfaceError) as exc:
        log.warning("inbound %s: media %s not stored: %s", inbound_id, media_id, type(exc).__name__)
        return
    log.info("inbound %s: media %s stored (%d bytes, %s)", inbound_id, media_id, len(found.data), found.content_type)


def _note_identity(conn: Connection, parsed: meta.MetaInbound) -> None:
    """Keep who Meta says wrote (wa_id, BSUID), linked to the party whose number it came with."""
    seen = parsed.identity
    identities.note_seen(
        conn,
        identities.Seen(
            provider="meta",
            wa_id=seen.wa_id,
            bsuid=seen.bsuid,
            phone=parsed.message.from_number if seen.wa_id else None,
            username=seen.username,
            profile_name=seen.profile_name,
        ),
    )


def _store_acknowledged(conn: Connection, message: messaging.IncomingMessage) -> int:
    """Kept for the record, once, and done at once: no job, no reply."""
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
    update_ = meta.status_update(item)
    return 1 if update_ is not None and webhook.apply_status(update_) else 0


def _refuse(code: int, reason: str) -> Response:
    log.warning("rejected with %d: %s", code, reason)
    return Response(status=code)


@bp.errorhandler(OperationalError)
@bp.errorhandler(InterfaceError)
def database_unavailable(exc: Exception) -> Response:
    log.error("PostgreSQL unavailable, answering 503 so Meta retries: %s", type(exc).__name__)
    return Response("database unavailable", 503, headers={"Retry-After": "5"}, content_type="text/plain")
