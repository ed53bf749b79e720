"""The sending job: one outbox row to the channel, at most once.

The crash window, and how it is closed:
1. Claim: the row moves PENDING -> SENDING (attempts + 1, status_changed_at = now) and that is
   committed *before* the provider is called.
2. Call the provider. The callback URL carries our row id (`?ob={id}`), a marker that lets the
   status webhook attach the provider SID to the row even if this job never records it.
3. Record the provider SID and its status (QUEUED, or SENT for the simulator).

If the job dies between 2 and 3 (or the call times out, or PostgreSQL is down when the SID is
recorded), the row stays SENDING. The next attempt — RQ's retry, or the sweep for rows SENDING too
long — does not resend blindly: it asks the provider for *every* message to that number since the
previous claim (page by page, not the last N), drops those whose SID is already on one of our rows
(another reply with the same text, sent and recorded), and adopts the oldest left that has our body.
The unique index on `provider_sid` keeps two rows from adopting one message. Residual risk,
accepted: a message accepted by the provider but not yet visible in its list API within that window
could be sent twice, and a template message (its rendered body is not ours to compare) is matched by
number and time only. A 429 is a clear "not accepted", so the row goes back to PENDING; a 5xx or a
timeout leaves it SENDING for the lookup.

Twilio allows a sender about `TWILIO_MAX_MPS` messages per second: every worker takes a slot from
one Redis clock per sender number before calling, instead of collecting 429s.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from redis import Redis
from sqlalchemy.exc import IntegrityError

from channels.base import OutgoingMessage, PermanentSendError, SendResult, TransientSendError
from db.models import OutboundStatus
from domain import messaging
from domain.phones import mask_phone
from thok import metrics
from thok.logging import bind
from workers.context import get_services

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # across RQ retries and sweeps; then the row is FAILED for a human to look at
CLOCK_SKEW = timedelta(minutes=2)  # our clock vs the provider's when matching a lost send

# Next free send slot per sender, in ms of Redis's own clock (one clock for all workers).
# Returns how long the caller must wait for its slot.
_TAKE_SLOT = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local step = tonumber(ARGV[1])
redis.call('SET', KEYS[1], slot + step, 'PX', step + 60000)
return slot - now
"""


def take_send_slot(redis: Redis, sender: str, max_per_second: int) -> float:
    """Wait for this worker's turn to send; returns the seconds waited."""
    step_ms = max(1, round(1000 / max(1, max_per_second)))
    wait_ms = int(redis.eval(_TAKE_SLOT, 1, f"thok:throttle:{sender}", step_ms))  # type: ignore[arg-type]
    if wait_ms > 0:
        time.sleep(wait_ms / 1000)
    return wait_ms / 1000


def find_earlier_attempt(message: OutgoingMessage, since: datetime) -> SendResult | None:
    """The provider's record of this message, if an earlier attempt got it accepted: the oldest
    message to the number since the claim with our body that no row of ours has recorded."""
    services = get_services()
    listed = services.channel.sent_since(message.to, since)
    with services.database.session() as session:
        taken = messaging.recorded_provider_sids(session, [m.provider_sid for m in listed])
    for sent in reversed(listed):  # oldest first: the earliest unclaimed copy is the earliest attempt
        if sent.provider_sid in taken:
            continue
        if message.content_sid or sent.body == message.body:
            return SendResult(sent.provider_sid, sent.status)
    return None


def send_outbound(outbound_id: int) -> str:
    services = get_services()
    settings, channel = services.settings, services.channel
    with services.database.unit_of_work() as uow:
        row = messaging.claim_outbound(uow.session, outbound_id)
        if row is None:
            return "skipped: sent already, failed, or held by another worker"
        bind(outbound_id=outbound_id, kind=row.kind)
        resumed = row.status == OutboundStatus.SENDING
        previous_claim = row.status_changed_at or row.created_at
        if row.attempts >= MAX_ATTEMPTS:
            messaging.fail_outbound(uow.session, row, "max_attempts", f"gave up after {row.attempts} attempts")
            uow.commit()
            metrics.message_out("failed")
            return "failed: too many attempts"
        window_open = not channel.enforces_session_window or messaging.within_session_window(uow.session, row.to_number)
        try:
            delivery = messaging.choose_delivery(row, window_open, settings.template_for(row.kind))
        except messaging.OutsideSessionWindow as exc:
            messaging.fail_outbound(uow.session, row, "outside_window", str(exc))
            uow.commit()
            metrics.message_out("failed")
            log.warning("outbound %s not sent: %s", outbound_id, exc)
            return "failed: outside the 24-hour window"
        messaging.mark_sending(uow.session, row, delivery)
        uow.commit()
        message = OutgoingMessage(
            outbound_id=row.id,
            to=row.to_number,
            body=delivery.body,
            content_sid=delivery.content_sid,
            content_variables=delivery.content_variables,
            media_url=row.media_url,
            # Buttons only with free-form text: a template (outside the window) brings its own.
            choices=() if delivery.content_sid else tuple(messaging.choices_of(row)),
        )
    try:
        result: SendResult | None = None
        if resumed:
            result = find_earlier_attempt(message, previous_claim - CLOCK_SKEW)
            if result is not None:
                log.info("outbound %s was accepted by an earlier attempt (%s)", outbound_id, result.provider_sid)
        if result is None:
            take_send_slot(services.redis, *settings.send_throttle)  # per provider's sender (issue 18)
            result = channel.send(message)
    except PermanentSendError as exc:
        with services.database.unit_of_work() as uow:
            messaging.fail_outbound_by_id(uow.session, outbound_id, exc.code, exc.reason)
            uow.commit()
        metrics.message_out("failed")
        log.warning("outbound %s to %s refused: %s", outbound_id, mask_phone(message.to), exc)
        return f"failed: {exc}"
    except TransientSendError as exc:
        with services.database.unit_of_work() as uow:
            messaging.note_transient_failure(uow.session, outbound_id, str(exc), surely_unsent=not exc.maybe_sent)
            uow.commit()
        metrics.message_out("retried")
        log.info("outbound %s: %s; RQ retries with backoff", outbound_id, exc)
        raise
    try:
        with services.database.unit_of_work() as uow:
            messaging.record_accepted(uow.session, outbound_id, result.provider_sid, result.status)
            uow.commit()
    except IntegrityError:  # another row adopted that message first: look again on the retry
        raise TransientSendError(f"{result.provider_sid} is another row's", maybe_sent=True) from None
    bind(message_sid=result.provider_sid)
    metrics.message_out(result.status.value)
    return f"sent: {result.provider_sid}"
