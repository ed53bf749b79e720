"""Enqueueing with deterministic job ids from business keys, so the same work is never queued twice
(a webhook retry, a sweep racing the webhook): `inbound-{id}`, `send-{outbound_id}`.

RQ job ids allow only letters, digits, `_` and `-`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from domain.events import Event, OfferWindowOpened, OfferWindowReady, WinnerSelected
from thok.config import Settings

INBOUND_QUEUE = "inbound"
OUTBOUND_QUEUE = "outbound"
SWEEP_QUEUE = "default"
DECISIONS_QUEUE = "decisions"
# Every queue a worker listens on, drained in this order: finish work already decided (timers, then
# sends) before taking new messages in, so replies and notices are not starved by inbound traffic.
QUEUES = (DECISIONS_QUEUE, OUTBOUND_QUEUE, INBOUND_QUEUE, SWEEP_QUEUE)
# A processing failure is usually a bug or a database blip: retry a few times, then the sweep
# marks the message FAILED so it shows on the dashboard instead of looping.
INBOUND_RETRY = Retry(max=3, interval=[5, 30, 120])
_DONE = (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


def inbound_job_id(inbound_id: int) -> str:
    return f"inbound-{inbound_id}"


def send_job_id(outbound_id: int) -> str:
    return f"send-{outbound_id}"


def _enqueue_once(queue: Queue, func: str, arg: int, job_id: str, retry: Retry | None) -> bool:
    """True if queued now; False if a job with this id is already waiting or running.
    A finished or failed job of the same id is replaced: callers only re-enqueue rows whose
    state in PostgreSQL says the work is still to do, and the jobs themselves are idempotent."""
    options = {"job_id": job_id, "retry": retry, "unique": True, "result_ttl": 600, "failure_ttl": 7 * 86400}
    try:
        queue.enqueue(func, arg, **options)
        return True
    except DuplicateJobError:
        pass
    status = job_status(queue.connection, job_id)
    if status is not None and status not in _DONE:
        return False
    if status is not None:
        Job.fetch(job_id, connection=queue.connection).delete()
    try:
        queue.enqueue(func, arg, **options)
    except DuplicateJobError:  # someone else re-enqueued it in between: fine, it is queued
        return False
    return True


def job_status(redis: Redis, job_id: str) -> JobStatus | None:
    try:
        return Job.fetch(job_id, connection=redis).get_status(refresh=True)
    except (NoSuchJobError, InvalidJobOperation):
        return None


def enqueue_inbound(redis: Redis, inbound_id: int) -> bool:
    return _enqueue_once(
        Queue(INBOUND_QUEUE, connection=redis),
        "workers.inbound.process_inbound",
        inbound_id,
        inbound_job_id(inbound_id),
        INBOUND_RETRY,
    )


def requeue_redelivery(redis: Redis, inbound_id: int) -> bool:
    """A provider's redelivery of a message stored but not processed: queue it unless its job is
    waiting or running. Redis away: False, and the row waits for the sweep as before."""
    try:
        return enqueue_inbound(redis, inbound_id)
    except RedisError:
        return False


def enqueue_new_inbound(redis: Redis, inbound_id: int) -> None:
    """The webhook's fast path: only the request whose INSERT created the row gets here, so
    PostgreSQL already guarantees one job per message and the unique check (a Lua round trip) is
    skipped; one pipelined round trip instead of several."""
    queue = Queue(INBOUND_QUEUE, connection=redis)
    with redis.pipeline() as pipe:
        queue.enqueue(
            "workers.inbound.process_inbound",
            inbound_id,
            job_id=inbound_job_id(inbound_id),
            retry=INBOUND_RETRY,
            result_ttl=600,
            failure_ttl=7 * 86400,
            pipeline=pipe,
        )
        pipe.execute()


def enqueue_send(redis: Redis, settings: Settings, outbound_id: int) -> bool:
    intervals = list(settings.outbound_retry_intervals)
    retry = Retry(max=len(intervals), interval=intervals) if intervals else None
    return _enqueue_once(
        Queue(OUTBOUND_QUEUE, connection=redis),
        "workers.outbound.send_outbound",
        outbound_id,
        send_job_id(outbound_id),
        retry,
    )


# --- the order timers (their jobs are workers/orders.py's; here so that effects need not import it)

# Transient database trouble (a restart, a serialization hiccup): try again with backoff.
DECISION_RETRY = Retry(max=5, interval=[1, 5, 15, 60, 300])


def _enqueue_timer(redis: Redis, func: str, args: tuple[int, ...], job_id: str, at: datetime | None = None) -> None:
    queue = Queue(DECISIONS_QUEUE, connection=redis)
    options = {"job_id": job_id, "retry": DECISION_RETRY, "unique": True, "result_ttl": 3600, "failure_ttl": 7 * 86400}
    try:
        if at is not None and at > datetime.now(UTC):
            # RQ's scheduler keeps whole seconds (it truncates), so a timer for 12:00:07.6 could
            # fire at 12:00:07 and find the window still open. Round up: just after, never before.
            queue.enqueue_at((at + timedelta(seconds=1)).replace(microsecond=0), func, *args, **options)
        else:  # already due (a window of 0 s, a late event): now
            queue.enqueue(func, *args, **options)
    except DuplicateJobError:
        pass  # already armed


def schedule_event(redis: Redis, event: Event) -> None:
    if isinstance(event, OfferWindowOpened):
        _enqueue_timer(
            redis,
            "workers.orders.close_offer_window",
            (event.order_id,),
            f"close-window-{event.order_id}",
            event.closes_at,
        )
    elif isinstance(event, OfferWindowReady):
        _enqueue_timer(
            redis, "workers.orders.close_offer_window", (event.order_id,), f"close-window-early-{event.order_id}"
        )
    elif isinstance(event, WinnerSelected):
        _enqueue_timer(
            redis,
            "workers.orders.accept_timeout",
            (event.order_id, event.offer_id),
            f"accept-timeout-{event.order_id}-{event.offer_id}",
            event.accept_deadline,
        )
