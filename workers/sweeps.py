"""The periodic sweep: PostgreSQL is the record of what is still to do, Redis only a fast path.

- Inbound rows still PENDING (stored while Redis was down) are enqueued, at once: a row is born
  QUEUED and goes PENDING only once its webhook failed to enqueue it, so nobody else will.
- Inbound rows QUEUED for long whose job vanished (Redis lost it) are enqueued again; those whose
  job failed for good are marked FAILED with a pointer to RQ's failed registry.
- Outbound rows PENDING that nobody enqueued, or SENDING whose job died, are enqueued again
  (the send job looks a SENDING row up at the provider before resending).
Job ids are deterministic, so a sweep racing the webhook or another sweep queues nothing twice.

Inbound jobs the sweep queues again go to the front of their queue, the oldest first: they were due
before anything now waiting, and behind a backlog (a loaded machine, the traffic that piled up
while Redis was away) they would wait for all of it (bench/chaos.py: recoveries of 30-47 s at load
average 17-25). When jobs may have been lost (`jobs_lost`: Redis came back empty, or a worker died,
perhaps holding a job it had taken off its queue but not yet entered as started, which leaves no
trace in Redis), QUEUED rows are looked at whatever their age, not only once stale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq.job import JobStatus

from domain import messaging, outbox
from thok import metrics
from thok.config import Settings
from workers.context import get_services
from workers.inbound import process_inbound
from workers.outbound import enqueue_send, enqueue_sweep_drain
from workers.queueing import INBOUND_RETRY, SWEEP_QUEUE, enqueue_once, inbound_job_id, job, job_status

log = logging.getLogger(__name__)

PENDING_GRACE = timedelta(seconds=10)  # a fresh outbox row's drain is queued right after its commit


def staleness(settings: Settings) -> tuple[timedelta, timedelta]:
    """How old a QUEUED inbound row and a SENDING outbound row must be before the sweep looks at
    their jobs. They follow the sweep's own interval (a fixed 2 and 5 minutes made recovery wait
    on them, not on the sweep): a QUEUED row without a job (its webhook died before enqueueing,
    Redis lost it) is found at the next sweep. A SENDING row also waits out three provider
    timeouts, so the call a lost job may still be making has ended before the next attempt looks
    the message up at the provider. Rows whose job is waiting, scheduled or running are left alone."""
    interval = timedelta(seconds=settings.sweep_interval_seconds)
    queued = max(PENDING_GRACE, interval)
    sending = max(queued, timedelta(seconds=3 * settings.twilio_timeout_seconds))
    return queued, sending


@dataclass(frozen=True)
class SweepResult:
    inbound_enqueued: int
    inbound_failed: int
    outbound_enqueued: int


def _requeue_inbound(redis: Redis, inbound_ids: list[int]) -> int:
    """Each row's job at the front of the inbound queue, unless it is waiting or running; the
    oldest ends up first (pushed last). Returns how many were queued."""
    return sum(
        enqueue_once(
            redis, process_inbound, inbound_id, job_id=inbound_job_id(inbound_id), retry=INBOUND_RETRY, at_front=True
        )
        for inbound_id in sorted(inbound_ids, reverse=True)
    )


@job(SWEEP_QUEUE)
def sweep_messages(grace: float | None = None, jobs_lost: bool = False) -> SweepResult:
    """`grace` (seconds) overrides every age threshold; tests and `thok` admins pass 0.
    `jobs_lost`: Redis came back without its data, or a worker died: QUEUED rows of any age may have
    lost their jobs and fresh outbox rows their drain (SENDING rows still wait out the provider's
    timeouts). A row whose job is waiting or running is left alone, as always."""
    services = get_services()
    now = datetime.now(UTC)
    queued_stale, sending_stale = staleness(services.settings)
    pending_grace = timedelta(seconds=grace) if grace is not None else PENDING_GRACE
    if jobs_lost:
        pending_grace = queued_stale = timedelta(0)
    queued_stale = timedelta(seconds=grace) if grace is not None else queued_stale
    sending_stale = timedelta(seconds=grace) if grace is not None else sending_stale
    with services.database.session() as session:
        pending = messaging.inbound_ids_to_enqueue(session, now)
        stale = messaging.stale_queued_inbound_ids(session, now - queued_stale)
        outbound = messaging.outbound_ids_to_send(session, now - pending_grace, now - sending_stale)
        fresh = outbox.fresh_among(session, outbound)

    failed = sent = 0
    lost: list[int] = []
    for inbound_id in stale:
        status = job_status(services.redis, inbound_job_id(inbound_id))
        if status == JobStatus.FAILED:
            with services.database.unit_of_work() as uow:
                messaging.mark_inbound_failed(
                    uow.session, inbound_id, f"processing failed; see RQ job {inbound_job_id(inbound_id)}"
                )
                uow.commit()
            failed += 1
            metrics.message_in("failed")
        elif status is None or status == JobStatus.FINISHED:
            lost.append(inbound_id)
    enqueued = _requeue_inbound(services.redis, [*pending, *lost])
    if pending:  # one transaction for all (each commit waits for the synchronous standby)
        with services.database.unit_of_work() as uow:
            for inbound_id in pending:
                messaging.mark_inbound_queued(uow.session, inbound_id)
            uow.commit()
    # Fresh rows: one drain sends them all. Rows an attempt touched (a 429 put back, SENDING whose
    # attempt died): one job each, whose lookup at the provider comes before any resend.
    if fresh:
        sent += enqueue_sweep_drain(services.redis)
    for outbound_id in outbound:
        if outbound_id not in fresh:
            sent += enqueue_send(services.redis, services.settings, outbound_id)
    if enqueued or failed or sent:
        log.warning("sweep: %d inbound re-enqueued, %d marked failed, %d sends re-enqueued", enqueued, failed, sent)
    return SweepResult(enqueued, failed, sent)
