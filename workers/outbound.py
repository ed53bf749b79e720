"""The senders: outbox rows to the channel, at most once each.

Two jobs send. `drain_outbox` is the hot path: after a commit that wrote messages, one drain job is
queued (not one job per message), and it sends every fresh row waiting, in batches: one transaction
claims a batch, the provider is called for each (several numbers at once, each number's messages in
order: `_send_all`), one transaction records them all. `send_outbound` sends one row: retries (a
429, a timeout), the sweeps' rows, the dashboard's "send again", and rows outside the 24-hour window
(a template, or failed with the reason). Both follow the same steps:

The crash window, and how it is closed:
1. Claim: the row moves PENDING -> SENDING (attempts + 1, status_changed_at = now) and that is
   committed *before* the provider is called.
2. Call the provider. The callback URL carries our row id (`?ob={id}`), a marker that lets the
   status webhook attach the provider SID to the row even if this job never records it.
3. Record the provider SID and its status (QUEUED, or SENT for the simulator).

A batch's rows stay held (a PostgreSQL advisory lock of the drain's connection, domain.outbox) from
the claim to the record, so `send_outbound` never takes a row a drain is still sending for one whose
attempt died; the lock ends with the connection, so a drain that dies leaves its rows SENDING and
free, as a one-row job that dies does.

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
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels.base import Channel, OutgoingMessage, PermanentSendError, SendResult, TransientSendError
from db.models import OutboundMessage, OutboundStatus
from domain import messaging, outbox
from domain.phones import mask_phone
from thok import metrics
from thok.config import Settings
from thok.logging import bind
from workers.context import JobServices, get_services
from workers.queueing import OUTBOUND_QUEUE, enqueue_fresh, enqueue_later, enqueue_once, job, send_job_id

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # across RQ retries and sweeps; then the row is FAILED for a human to look at
CLOCK_SKEW = timedelta(minutes=2)  # our clock vs the provider's when matching a lost send
BATCH = 50  # rows one drain claims and records per transaction
# Set while a drain job is queued and not yet started: a commit that finds it set needs no other
# drain, since the queued one will see its rows (it clears the flag before it claims anything).
DRAIN_FLAG = "thok:outbox:drain-queued"
DRAIN_FLAG_SECONDS = 60  # its expiry (workers.inbound raises it with the same)
# A flag raised longer ago than this whose drain has not started (it clears the flag as it starts)
# is taken for a drain that was lost (with Redis, or with a worker that died before draining): the
# next commit queues a drain of its own, so fresh rows wait about this long, not the flag's expiry.
# A drain that is only slow to start (a backlog) costs at most one extra drain per grace.
DRAIN_FLAG_GRACE = 10
# Raise the flag unless it was raised less than ARGV[2] s ago (its age read from its remaining
# time to live); 1 if raised now. One round trip, as SET NX was.
_RAISE_DRAIN_FLAG = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 1 end
local left = redis.call('PTTL', KEYS[1])
if left >= 0 and left > (tonumber(ARGV[1]) - tonumber(ARGV[2])) * 1000 then return 0 end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return 1
"""
DRAIN_RETRY = Retry(max=3, interval=[1, 5, 15])

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


def take_send_slot(redis: Redis, sender: str, max_per_second: int, slots: int = 1) -> float:
    """Wait for this worker's turn to send; returns the seconds waited. `slots` > 1 books that many
    consecutive slots at once (a batch): the caller then waits `SendClock.wait` before each later send."""
    step_ms = max(1, round(1000 / max(1, max_per_second)))
    wait_ms = int(redis.eval(_TAKE_SLOT, 1, f"thok:throttle:{sender}", step_ms * slots))  # type: ignore[arg-type]
    if wait_ms > 0:
        time.sleep(wait_ms / 1000)
    return wait_ms / 1000


class SendClock:
    """A batch's booked slots: one Redis round trip for the batch, then the i-th send waits until
    its own slot (the throttle's spacing kept within the batch)."""

    def __init__(self, redis: Redis, sender: str, max_per_second: int, slots: int):
        self.step, self.slots = 1 / max(1, max_per_second), slots
        take_send_slot(redis, sender, max_per_second, slots)
        self.start = time.monotonic()

    def wait(self, index: int) -> None:
        pause = self.start + index * self.step - time.monotonic()
        if pause > 0:
            time.sleep(pause)


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


@job(OUTBOUND_QUEUE)
def send_outbound(outbound_id: int) -> str:
    services = get_services()
    settings, channel = services.settings, services.channel
    with services.database.unit_of_work() as uow:
        row = messaging.claim_outbound(uow.session, outbound_id)
        if row is None or (row.status == OutboundStatus.SENDING and outbox.send_in_flight(uow.session, outbound_id)):
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
            delivery = messaging.choose_delivery(
                row, window_open, settings.template_for(row.kind), channel.template_setting
            )
        except messaging.OutsideSessionWindow as exc:
            messaging.fail_outbound(uow.session, row, "outside_window", str(exc))
            uow.commit()
            metrics.message_out("failed")
            log.warning("outbound %s not sent: %s", outbound_id, exc)
            return "failed: outside the 24-hour window"
        messaging.mark_sending(uow.session, row, delivery)
        uow.commit()
        message = _outgoing(row, delivery)
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


def _outgoing(row: OutboundMessage, delivery: messaging.Delivery) -> OutgoingMessage:
    return OutgoingMessage(
        outbound_id=row.id,
        to=row.to_number,
        body=delivery.body,
        content_sid=delivery.content_sid,
        content_variables=delivery.content_variables,
        media_url=row.media_url,
        # Buttons only with free-form text: a template (outside the window) brings its own.
        choices=() if delivery.content_sid else tuple(messaging.choices_of(row)),
    )


SEND_THREADS = 8  # a batch's provider calls at once (one HTTP round trip each with Twilio or Meta)
_senders: ThreadPoolExecutor | None = None
Outcome = SendResult | PermanentSendError | TransientSendError


def _send_all(channel: Channel, messages: list[OutgoingMessage], clock: SendClock | None) -> list[Outcome]:
    """Each message's outcome, in the batch's order. A channel that calls a provider sends to
    several numbers at once (threads), each number's messages one after the other in their order
    (a reply's parts, then the next message), each send no earlier than its slot of the throttle.
    Nothing else changes: the batch is claimed and held before, and recorded after all calls."""
    outcomes: list[Outcome | None] = [None] * len(messages)

    def send_to(indexes: list[int]) -> None:
        for index in indexes:
            assert clock is not None
            clock.wait(index)
            try:
                outcomes[index] = channel.send(messages[index])
            except (PermanentSendError, TransientSendError) as exc:
                outcomes[index] = exc

    by_number: dict[str, list[int]] = {}
    for index, message in enumerate(messages):
        by_number.setdefault(message.to, []).append(index)
    if len(by_number) < 2 or channel.name == "simulator":  # nothing to wait for in parallel
        send_to(list(range(len(messages))))
    else:
        global _senders
        if _senders is None:
            _senders = ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="thok-send")
        calls = [_senders.submit(send_to, indexes) for indexes in by_number.values()]
        wait(calls)  # every call ended before anything is recorded or raised
        for call in calls:
            call.result()  # anything unexpected: raised as the serial loop would have
    assert all(outcome is not None for outcome in outcomes)
    return outcomes  # type: ignore[return-value]


def _claimed_outgoing(row: outbox.ClaimedRow) -> OutgoingMessage:
    """A claimed row as free text (as `_outgoing` with the row's own body): inside the window."""
    return OutgoingMessage(
        outbound_id=row.id,
        to=row.to_number,
        body=row.body,
        media_url=row.media_url,
        choices=tuple(outbox.choices_of(row)),
    )


@job(OUTBOUND_QUEUE)
def drain_outbox() -> str:
    """The drain job: send every fresh row in the outbox, a batch at a time, until none is left."""
    services = get_services()
    services.redis.delete(DRAIN_FLAG)  # before the first claim: a commit from now on queues a new drain
    return send_fresh(services)


def send_fresh(services: JobServices, expected: int = 0) -> str:
    """Every fresh row in the outbox, a batch at a time, until none is left: the drain job's body,
    and what an inbound job runs after its commit. The latter leaves the drain flag alone: the flag
    says a drain *job* is queued and has not started, which an inline drain does not change.

    `expected`: the rows the caller just committed. Their throttle slots are booked before the
    claim, so a Redis that is away fails the send before any row is moved to SENDING: they stay
    fresh for the outbox sweep, as when the drain job cannot start (not SENDING, for the slower
    crash-window lookup)."""
    clock = SendClock(services.redis, *services.settings.send_throttle, expected) if expected else None
    totals = {"sent": 0, "failed": 0, "retried": 0, "one by one": 0}
    while True:
        claimed, counts, one_by_one = _send_batch(services, clock)
        clock = None  # booked for the first batch only
        for key, n in counts.items():
            totals[key] += n
        # Rows outside the 24-hour window: a template, or failed with the reason (the one-row job's rules).
        for outbound_id in one_by_one:
            try:
                send_outbound(outbound_id)
            except TransientSendError:  # noted on the row; its own job retries it, the drain goes on
                retry_send_later(services.redis, services.settings, outbound_id)
        totals["one by one"] += len(one_by_one)
        if claimed < BATCH:
            break
    return ", ".join(f"{key} {n}" for key, n in totals.items() if n) or "nothing to send"


def _send_batch(services: JobServices, booked: SendClock | None = None) -> tuple[int, dict[str, int], list[int]]:
    """Claim, send and record one batch; (rows claimed, outcomes, rows left to `send_outbound`).
    `booked`: slots already taken for this batch (the rows' count as expected before the claim)."""
    settings, channel = services.settings, services.channel
    counts = {"sent": 0, "failed": 0, "retried": 0}
    with services.database.engine.connect() as conn:
        session = Session(bind=conn, expire_on_commit=False)
        try:
            # Claim, SENDING and the advisory locks in one statement; rows outside the 24-hour
            # window come back unmarked, for the one-row rules (a template, or failed with the reason).
            window = messaging.SESSION_WINDOW if channel.enforces_session_window else None
            batch, outside = outbox.claim_batch(session, BATCH, window)
            if not batch and not outside:
                session.rollback()
                return 0, counts, []
            messages = [_claimed_outgoing(row) for row in batch]
            session.commit()  # the claim, before any provider call
            accepted: list[tuple[int, str, OutboundStatus]] = []
            refused: list[tuple[int, PermanentSendError]] = []
            unsent: list[tuple[int, TransientSendError]] = []
            clock = booked
            if messages and (clock is None or clock.slots < len(messages)):  # others' fresh rows came too
                clock = SendClock(services.redis, *settings.send_throttle, len(messages))
            for message, outcome in zip(messages, _send_all(channel, messages, clock), strict=True):
                if isinstance(outcome, PermanentSendError):
                    refused.append((message.outbound_id, outcome))
                    log.warning("outbound %s to %s refused: %s", message.outbound_id, mask_phone(message.to), outcome)
                elif isinstance(outcome, TransientSendError):
                    unsent.append((message.outbound_id, outcome))
                    log.info("outbound %s: %s; retried alone", message.outbound_id, outcome)
                else:
                    accepted.append((message.outbound_id, outcome.provider_sid, outcome.status))
            if refused or unsent:
                outbox.record_sent(session, accepted)
                for outbound_id, refusal in refused:
                    messaging.fail_outbound_by_id(session, outbound_id, refusal.code, refusal.reason)
                for outbound_id, trouble in unsent:
                    messaging.note_transient_failure(
                        session, outbound_id, str(trouble), surely_unsent=not trouble.maybe_sent
                    )
                outbox.release_sends(session)
            elif accepted:
                outbox.record_sent_and_release(session, accepted)  # the usual batch: one statement
            session.commit()
        except BaseException:
            # Never hand a connection holding our advisory locks back to the pool: closing it
            # releases them, and the rows are left SENDING for the lookup, as a dead job's are.
            conn.invalidate()
            raise
        finally:
            session.close()
    for _id, _sid, status in accepted:
        metrics.message_out(status.value)
    if refused:
        metrics.message_out("failed", len(refused))
    for outbound_id, _ in unsent:
        retry_send_later(services.redis, settings, outbound_id)
        metrics.message_out("retried")
    counts.update(sent=len(accepted), failed=len(refused), retried=len(unsent))
    return len(batch) + len(outside), counts, outside


def retry_send_later(redis: Redis, settings: Settings, outbound_id: int) -> None:
    """A send the batch could not make: the one-row job, after the first retry interval, with the
    rest of the intervals as its own retries (what RQ would have done to a one-row job)."""
    intervals = list(settings.outbound_retry_intervals)
    if not intervals or intervals[0] <= 0:
        enqueue_send(redis, settings, outbound_id)
        return
    rest = intervals[1:]
    enqueue_later(
        redis,
        send_outbound,
        outbound_id,
        delay=timedelta(seconds=intervals[0]),
        job_id=send_job_id(outbound_id),
        retry=Retry(max=len(rest), interval=rest) if rest else None,
        failure_ttl=7 * 86400,
    )


def enqueue_send(redis: Redis, settings: Settings, outbound_id: int) -> bool:
    """The one-row job for this row, unless it is already waiting or running."""
    intervals = list(settings.outbound_retry_intervals)
    retry = Retry(max=len(intervals), interval=intervals) if intervals else None
    return enqueue_once(redis, send_outbound, outbound_id, job_id=send_job_id(outbound_id), retry=retry)


def enqueue_drain(redis: Redis) -> bool:
    """After a commit that wrote messages: a drain job, unless one was queued lately and has not
    started yet (that one will see these rows). True if this call queued it."""
    raised = redis.eval(_RAISE_DRAIN_FLAG, 1, DRAIN_FLAG, DRAIN_FLAG_SECONDS, DRAIN_FLAG_GRACE)  # type: ignore[arg-type]
    if not raised:  # a drain queued in the last DRAIN_FLAG_GRACE seconds will see these rows
        return False
    try:
        enqueue_fresh(
            redis,
            drain_outbox,
            job_id=f"send-drain-{uuid.uuid4().hex}",
            retry=DRAIN_RETRY,
            result_ttl=60,
            failure_ttl=7 * 86400,
        )
    except RedisError:
        redis.delete(DRAIN_FLAG)
        raise
    return True


def enqueue_sweep_drain(redis: Redis) -> bool:
    """The sweep's drain for fresh rows left waiting (their drain lost with Redis, or its flag left
    behind by a lost job): one job id, so sweeps queue at most one while it waits or runs."""
    return enqueue_once(redis, drain_outbox, job_id="send-drain-sweep", retry=DRAIN_RETRY, result_ttl=60)
