"""Twilio's webhooks: inbound WhatsApp messages and delivery status callbacks.

The inbound hook only verifies, stores and enqueues, then answers at once with empty TwiML; the
reply is written by the worker. Status codes are chosen for Twilio's retry behaviour:
- 200 for a stored message and for a duplicate (`MessageSid` seen before): nothing to redo;
- 403 for a missing or wrong signature, 400 for a malformed request: retrying cannot help;
- 503 when PostgreSQL is unreachable, so Twilio retries or uses the fallback URL.
Redis being down is not an error here: the row stays PENDING and the periodic sweep enqueues it.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl

from flask import Blueprint, Request, Response, g, request
from redis.exceptions import RedisError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError

from bot.signature import is_signed, signature_required
from channels.base import StatusUpdate
from channels.twilio import BadRequest, form_byte_limit, incoming_message, status_update
from domain import messaging
from thok import metrics
from thok.logging import bind
from thok.web import services
from workers.inbound import enqueue_new_inbound, requeue_redelivery

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@bp.post("/webhooks/twilio/whatsapp")
def inbound() -> Response:
    form = _verified_form(request)
    if isinstance(form, Response):
        return form
    try:
        message = incoming_message(form)
    except BadRequest as exc:
        return _refuse(400, f"inbound webhook: {exc}")
    bind(message_sid=message.message_sid)
    if accept(message) is None:
        g.webhook_outcome = "duplicate"
    return Response(EMPTY_TWIML, 200, content_type="text/xml")


def accept(message: messaging.IncomingMessage) -> int | None:
    """Store one verified inbound message once by its provider id and put it on the queue; every
    provider's webhook comes through here. Returns the new row's id, None for a duplicate.
    PostgreSQL down raises (the route answers 503); Redis down leaves the row PENDING."""
    with services().database.autocommit() as conn:  # back to the pool before the Redis round trip
        inbound_id, unfinished = store(conn, message)
    return queue_stored(message, inbound_id, unfinished)


def store(conn: Connection, message: messaging.IncomingMessage) -> tuple[int | None, int | None]:
    """`accept`'s first half, on an autocommit connection the route may use for its own statements:
    the new row's id, or None and the id of a duplicate still to be processed."""
    inbound_id = messaging.store_inbound(conn, message)
    return inbound_id, messaging.unfinished_inbound_id(conn, message.message_sid) if inbound_id is None else None


def queue_stored(message: messaging.IncomingMessage, inbound_id: int | None, unfinished: int | None) -> int | None:
    """`accept`'s second half, once the connection is back: the new row's job, or a redelivery's."""
    if inbound_id is None:
        # Still unprocessed: the first delivery's webhook may have died before enqueueing. Queue it
        # now rather than at the next sweep; the job id keeps it single.
        requeued = unfinished is not None and requeue_redelivery(services().redis, unfinished)
        log.info("duplicate delivery of %s %s", message.message_sid, "re-enqueued" if requeued else "ignored")
    else:
        _enqueue(inbound_id)
    metrics.message_in("received" if inbound_id else "duplicate")
    return inbound_id


@bp.post("/webhooks/twilio/status")
def status_callback() -> Response:
    form = _verified_form(request)
    if isinstance(form, Response):
        return form
    try:
        update_ = status_update(form, request.args.get("ob", ""))
    except BadRequest as exc:
        return _refuse(400, str(exc))
    if update_ is None:
        return Response(status=204)
    bind(message_sid=update_.provider_sid, provider_status=update_.reported)
    moved = apply_status(update_)
    if not moved:
        g.webhook_outcome = "duplicate"
    return Response(status=204)


def apply_status(report: StatusUpdate) -> bool:
    """One provider status report onto its outbound row, only forward; every provider's status
    webhook comes through here. False: late (the row is further on) or not one of ours."""
    with services().database.unit_of_work() as uow:
        moved = messaging.advance_status(
            uow.session,
            report.status,
            provider_sid=report.provider_sid,
            outbound_id=report.outbound_id,
            error_code=report.error_code,
            error_message=report.error_message or (f"provider status {report.reported}" if report.error_code else None),
        )
        uow.commit()
    if moved:
        metrics.message_out(report.status.value)
    else:
        log.info("status %s for %s not applied (late, or unknown message)", report.reported, report.provider_sid)
    return moved


# Outcomes and latency for every webhook response, error handlers' included: the routes only say
# when a 2xx was a duplicate.
_ROUTES = {"webhooks.inbound": "inbound", "webhooks.status_callback": "status"}
_OUTCOMES = {403: "forged", 400: "bad_request", 413: "bad_request"}


@bp.before_request
def _start_clock() -> None:
    g.webhook_started = time.perf_counter()
    # The app-wide MAX_CONTENT_LENGTH is sized for the dashboard's forms; a webhook's cap follows
    # WhatsApp's message length instead (see form_byte_limit).
    request.max_content_length = form_byte_limit(services().settings.max_body_bytes)


@bp.after_request
def _count(response: Response) -> Response:
    if response.status_code < 300:
        outcome = g.get("webhook_outcome", "accepted")
    else:
        outcome = _OUTCOMES.get(response.status_code, "error")
    elapsed = time.perf_counter() - g.get("webhook_started", time.perf_counter())
    metrics.observe_webhook(_ROUTES.get(request.endpoint or "", "other"), outcome, elapsed)
    return response


@bp.errorhandler(OperationalError)
@bp.errorhandler(InterfaceError)
def database_unavailable(exc: Exception) -> Response:
    log.error("PostgreSQL unavailable, answering 503 so Twilio retries: %s", type(exc).__name__)
    return Response("database unavailable", 503, headers={"Retry-After": "5"}, content_type="text/plain")


def _verified_form(req: Request) -> dict[str, str] | Response:
    settings = services().settings
    try:
        form = read_form(req, form_byte_limit(settings.max_body_bytes))
    except BadRequest as exc:
        return _refuse(400, f"{req.path}: {exc}")
    if signature_required(settings) and not is_signed(req, form, settings):
        return _refuse(403, f"{req.path}: missing or wrong X-Twilio-Signature (client {req.remote_addr})")
    return form


def _refuse(code: int, reason: str) -> Response:
    log.warning("rejected with %d: %s", code, reason)
    return Response(status=code)


def _enqueue(inbound_id: int) -> None:
    svc = services()
    try:
        enqueue_new_inbound(svc.redis, inbound_id)
        return
    except RedisError as exc:
        log.warning("Redis unavailable (%s): inbound %s stays PENDING for the sweep", type(exc).__name__, inbound_id)
    try:
        with svc.database.unit_of_work() as uow:
            messaging.mark_inbound_pending(uow.session, inbound_id)
            uow.commit()
    except (OperationalError, InterfaceError):
        log.warning("could not mark inbound %s PENDING; the sweep finds it QUEUED without a job", inbound_id)


def read_form(req: Request, max_bytes: int) -> dict[str, str]:
    """The urlencoded body, strictly: Werkzeug would silently replace invalid UTF-8 and we would
    store (and reply to) garbage, so the body is decoded here and refused when malformed."""
    if req.mimetype != "application/x-www-form-urlencoded":
        raise BadRequest(f"content type {req.mimetype or 'missing'}, expected a urlencoded form")
    if req.content_length is not None and req.content_length > max_bytes:
        raise BadRequest(f"body of {req.content_length} bytes is over the {max_bytes}-byte limit")
    raw = req.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise BadRequest(f"body over the {max_bytes}-byte limit")
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("body is not valid UTF-8 form data") from None
    if any("\x00" in key or "\x00" in value for key, value in pairs):
        raise BadRequest("NUL character in form data")  # PostgreSQL text cannot hold it
    return dict(pairs)
