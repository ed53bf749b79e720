"""RQ's side of the jobs: the queues, the registry of job functions, and enqueueing with
deterministic job ids from business keys, so the same work is never queued twice (a webhook retry,
a sweep racing the webhook): `inbound-{id}`, `send-{outbound_id}`.

A job function is registered where it is defined, `@job(INBOUND_QUEUE)`, and enqueued by the
function object (`enqueue_once(redis, process_inbound, ...)`), never by a dotted string: RQ stores
the function's import path, and the registry is what `tests/test_job_registry.py` checks — every
registered job is importable under the path RQ will store, on a queue a worker listens to, and no
module outside this one calls RQ's enqueue. The enqueue helpers live beside their jobs
(workers/inbound.py, outbound.py, orders.py), so no module here imports a job module.

RQ job ids allow only letters, digits, `_` and `-`.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from redis import Redis
from redis.commands.core import Script
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job, JobStatus
from rq.utils import get_call_string, now, utcformat

INBOUND_QUEUE = "inbound"
OUTBOUND_QUEUE = "outbound"
SWEEP_QUEUE = "default"
DECISIONS_QUEUE = "decisions"
# Every queue a worker listens on, drained in this order: finish work already decided (timers, then
# sends) before taking new messages in, so replies and notices are not starved by inbound traffic.
# The periodic jobs (sweeps, gauges) come right after the timers: a few per interval, they cannot
# starve the messages, while last they waited for as long as traffic kept the message queues busy
# (bench/chaos.py: after a Redis restart under load, messages stored meanwhile answered 75 s late).
QUEUES = (DECISIONS_QUEUE, SWEEP_QUEUE, OUTBOUND_QUEUE, INBOUND_QUEUE)
# A processing failure is usually a bug or a database blip: retry a few times, then the sweep
# marks the message FAILED so it shows on the dashboard instead of looping.
INBOUND_RETRY = Retry(max=3, interval=[5, 30, 120])
# Transient database trouble (a restart, a serialization hiccup): try again with backoff.
DECISION_RETRY = Retry(max=5, interval=[1, 5, 15, 60, 300])
_DONE = (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class JobSpec:
    """A registered job: the function, the import path RQ stores for it, and its queue."""

    func: Callable[..., Any]
    path: str
    queue: str


JOBS: dict[str, JobSpec] = {}  # by import path


def job(queue: str) -> Callable[[F], F]:
    """Register a module-level function as an RQ job on `queue`."""
    if queue not in QUEUES:
        raise ValueError(f"no worker listens on queue {queue!r}")

    def register(func: F) -> F:
        path = f"{func.__module__}.{func.__qualname__}"
        JOBS[path] = JobSpec(func, path, queue)
        return func

    return register


def spec_of(func: Callable[..., Any]) -> JobSpec:
    spec = JOBS.get(f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', '')}")
    if spec is None or spec.func is not func:
        raise LookupError(f"{func!r} is not a registered job (decorate it with @job(queue))")
    return spec


def queue_of(redis: Redis, func: Callable[..., Any]) -> Queue:
    return Queue(spec_of(func).queue, connection=redis)


def inbound_job_id(inbound_id: int) -> str:
    return f"inbound-{inbound_id}"


def send_job_id(outbound_id: int) -> str:
    return f"send-{outbound_id}"


def enqueue_once(
    redis: Redis, func: Callable[..., Any], *args: Any, job_id: str, retry: Retry | None = None, **options: Any
) -> bool:
    """True if queued now; False if a job with this id is already waiting or running.
    A finished or failed job of the same id is replaced: callers only re-enqueue rows whose
    state in PostgreSQL says the work is still to do, and the jobs themselves are idempotent."""
    queue = queue_of(redis, func)
    options = {"job_id": job_id, "retry": retry, "unique": True, "result_ttl": 600, "failure_ttl": 7 * 86400} | options
    try:
        queue.enqueue(func, *args, **options)
        return True
    except DuplicateJobError:
        pass
    status = job_status(queue.connection, job_id)
    if status is not None and status not in _DONE:
        return False
    with contextlib.suppress(NoSuchJobError):  # done, or lost by a worker that died holding it
        Job.fetch(job_id, connection=queue.connection).delete()
    try:
        queue.enqueue(func, *args, **options)
    except DuplicateJobError:  # someone else re-enqueued it in between: fine, it is queued
        return False
    return True


def enqueue_fresh(redis: Redis, func: Callable[..., Any], *args: Any, job_id: str, **options: Any) -> None:
    """One round trip and no unique check: for a caller whose PostgreSQL write already guarantees
    that this job is queued once (the webhook's INSERT).

    The job is RQ's own, written as `Queue.enqueue` writes it (SADD to the queues, the job's hash,
    RPUSH), atomically as its MULTI/EXEC, by one script: the hash's fields that depend on neither
    the arguments nor the clock come from a job RQ built once per process for this function and
    options and are written into the script, so only the data, the description and the stamps go
    with each call. RQ's per-call job building and redis-py's packing of the whole hash and
    parsing of five replies were most of the enqueue's CPU, itself a seventh of a webhook request's
    (tests/test_enqueue_fresh.py compares the hash with RQ's field by field)."""
    spec = spec_of(func)
    if not options.keys() <= _FRESH_OPTIONS:  # dependencies, ttl, meta...: RQ's own path
        queue = Queue(spec.queue, connection=redis)
        with redis.pipeline() as pipe:
            queue.enqueue(func, *args, job_id=job_id, pipeline=pipe, **options)
            pipe.execute()
        return
    serializer, script = _fresh_template(redis, spec, options)
    script(
        keys=[Job.redis_job_namespace_prefix + job_id, Queue.redis_queue_namespace_prefix + spec.queue],
        args=[
            job_id,
            utcformat(now()),
            zlib.compress(serializer.dumps((spec.path, None, args, {}))),
            get_call_string(spec.path, args, {}, max_length=75) or "",
        ],
        client=redis,
    )


# The options a template can hold: each only sets fields of the hash, the same for every call.
_FRESH_OPTIONS = frozenset({"retry", "result_ttl", "failure_ttl", "timeout"})
_fresh_templates: dict[tuple[str, ...], tuple[Any, Script]] = {}


def _fresh_template(redis: Redis, spec: JobSpec, options: dict[str, Any]) -> tuple[Any, Script]:
    key = (spec.path, *sorted(f"{name}={value!r}" for name, value in options.items()))  # Retry has a full repr
    template = _fresh_templates.get(key)
    if template is None:
        queue = Queue(spec.queue, connection=redis)
        job = queue.create_job(spec.func, args=(), job_id="template", **options)
        queue._prepare_for_queue(job)  # origin, enqueued_at, default timeout, QUEUED: as enqueue does
        encode = redis.get_encoder().encode  # as redis-py would encode each value
        per_call = {"created_at": "ARGV[2]", "enqueued_at": "ARGV[2]", "data": "ARGV[3]", "description": "ARGV[4]"}
        fields = [
            f"{_lua_string(encode(name))}, {per_call.get(name) or _lua_string(encode(value))}"
            for name, value in job.to_dict().items()
        ]
        assert per_call.keys() <= job.to_dict().keys(), "RQ's job hash changed: check enqueue_fresh"
        source = (
            f"redis.call('SADD', {_lua_string(Queue.redis_queues_keys.encode())}, KEYS[2])\n"
            f"redis.call('HSET', KEYS[1], {', '.join(fields)})\n"
            "return redis.call('RPUSH', KEYS[2], ARGV[1])"
        )
        template = _fresh_templates.setdefault(key, (job.serializer, redis.register_script(source)))
    return template


def _lua_string(value: bytes) -> str:
    return '"' + "".join(f"\\{byte}" for byte in value) + '"'  # decimal escapes: any byte, no quoting rules


def enqueue_unique(redis: Redis, func: Callable[..., Any], *args: Any, job_id: str, **options: Any) -> bool:
    """Queue unless a job of this id is waiting (periodic jobs: one per interval)."""
    try:
        queue_of(redis, func).enqueue(func, *args, job_id=job_id, unique=True, **options)
        return True
    except DuplicateJobError:
        return False


def enqueue_timer(redis: Redis, func: Callable[..., Any], *args: Any, job_id: str, at: datetime | None = None) -> None:
    """A timer on the decisions queue, armed once per job id; due now if `at` is past or None."""
    queue = queue_of(redis, func)
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


def enqueue_later(
    redis: Redis, func: Callable[..., Any], *args: Any, delay: timedelta, job_id: str, **options: Any
) -> None:
    """Run once after `delay` (RQ's scheduler), e.g. the first retry of a send a batch could not make."""
    with contextlib.suppress(DuplicateJobError):
        queue_of(redis, func).enqueue_in(delay, func, *args, job_id=job_id, unique=True, **options)


def job_status(redis: Redis, job_id: str) -> JobStatus | None:
    """The job's status; None when there is no job, or when it says QUEUED but sits in no queue:
    a worker took it off the queue and died before starting it (SIGKILL between dequeue and
    start), so no queue, registry or RQ maintenance pass will ever run it (found by bench/chaos.py:
    a message waited until Redis was restarted)."""
    try:
        job = Job.fetch(job_id, connection=redis)
        status = job.get_status(refresh=True)
    except (NoSuchJobError, InvalidJobOperation):
        return None
    if status == JobStatus.QUEUED and not _in_a_queue(redis, job):
        return None
    return status


def _in_a_queue(redis: Redis, job: Job) -> bool:
    key = Queue(job.origin, connection=redis).key
    return any(redis.lpos(k, job.id) is not None for k in (key, IntermediateQueue.get_intermediate_queue_key(key)))
