"""Failed RQ jobs, read from each queue's failed-job registry in Redis (the jobs live there, not in
PostgreSQL), and the retry an admin asks for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from domain.errors import InvalidInput, NotFound
from workers.queueing import DECISIONS_QUEUE, INBOUND_QUEUE, OUTBOUND_QUEUE, SWEEP_QUEUE

QUEUES = (INBOUND_QUEUE, OUTBOUND_QUEUE, DECISIONS_QUEUE, SWEEP_QUEUE)
SHOWN_PER_QUEUE = 50


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    func_name: str | None
    args: str
    ended_at: datetime | None
    error: str  # the last line of the traceback: what an admin can act on


def failed_jobs(redis: Redis) -> list[FailedJob]:
    out: list[FailedJob] = []
    for name in QUEUES:
        registry = FailedJobRegistry(name, connection=redis)
        ids = registry.get_job_ids(0, SHOWN_PER_QUEUE - 1)
        for job in Job.fetch_many(ids, connection=redis):
            if job is None:  # expired between the two reads
                continue
            result = job.latest_result()
            trace = (result.exc_string if result else None) or job.exc_info or ""
            lines = [ln for ln in str(trace).strip().splitlines() if ln.strip()]
            out.append(
                FailedJob(job.id, name, job.func_name, repr(job.args)[:80], job.ended_at, lines[-1] if lines else "")
            )
    out.sort(key=lambda j: j.ended_at.timestamp() if j.ended_at else 0.0, reverse=True)
    return out


def retry_job(redis: Redis, queue: str, job_id: str) -> Job:
    """Move a failed job back onto its queue. The jobs are idempotent (see workers/), so a retry
    of work that half-happened finishes it rather than doing it twice."""
    if queue not in QUEUES:
        raise InvalidInput(f"unknown queue {queue!r}")
    registry = FailedJobRegistry(queue, connection=redis)
    if job_id not in registry.get_job_ids():
        raise NotFound(f"job {job_id} is not in the failed jobs of {queue} (retried already, or expired)")
    try:
        registry.requeue(job_id)
    except (NoSuchJobError, InvalidJobOperation) as exc:
        raise NotFound(f"job {job_id} cannot be retried: {exc}") from None
    return Job.fetch(job_id, connection=Queue(queue, connection=redis).connection)
