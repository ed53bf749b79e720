"""`thok worker`: an RQ worker with the scheduler, listening on Thok's queues."""

from __future__ import annotations

import logging
import threading
import time

from redis.exceptions import RedisError
from rq.exceptions import StopRequested

from thok import runtime
from thok.config import Settings
from workers import context
from workers.housekeeping import prune_sign_in_records_job
from workers.metrics import refresh_gauges, serve_worker_metrics
from workers.orders import sweep_orders
from workers.partitions import ensure_partitions_job
from workers.payments import check_payment_requests
from workers.queueing import QUEUES, enqueue_unique
from workers.reminders import send_payment_reminders, send_wholesaler_summaries
from workers.supervision import ThokWorker, WorkerDuties, quiet_rq_redis_errors
from workers.sweeps import sweep_messages

log = logging.getLogger(__name__)
GAUGES_SECONDS = 60
# Set once, never expires: when a worker's clock finds it missing, Redis has come back without its
# data (a restart of a Redis that keeps nothing, a failover to an empty replica, a flush).
REDIS_MARK = "thok:redis-started"
REDIS_AWAY_TICK = 1.0  # seconds between the clock's tries while Redis is away: back -> swept within ~1 s


def enqueue_sweep(settings: Settings, now: float | None = None) -> bool:
    """Queue the message sweep for the current interval. The job id names the interval, so with
    several workers running only one sweep per interval is queued."""
    bucket = int((now or time.time()) // settings.sweep_interval_seconds)
    redis = runtime.redis_for(settings)
    queued = False
    # Messages (inbound never queued, outbound stuck) and orders (windows and accept deadlines
    # past due): each re-derived from PostgreSQL, so a lost timer or a Redis outage only delays.
    # The metrics gauges read from PostgreSQL (whole-table counts) need not follow the recovery
    # clock: at most once a minute.
    gauges = int((now or time.time()) // max(GAUGES_SECONDS, settings.sweep_interval_seconds))
    if redis.set(REDIS_MARK, int(now or time.time()), nx=True):
        # Every job queued before is gone: the message sweep looks at every QUEUED row now rather
        # than once they are stale (its own id: another worker may queue this bucket's plain sweep).
        queued |= enqueue_unique(
            redis, sweep_messages, job_id=f"sweep-emptied-{bucket}", kwargs={"jobs_lost": True}, result_ttl=3600
        )
    for func, name, n in (
        (sweep_messages, "sweep", bucket),
        (sweep_orders, "sweep-orders", bucket),
        (refresh_gauges, "refresh-gauges", gauges),
        (check_payment_requests, "payment-lookups", bucket),  # open pay links
    ):
        queued |= enqueue_unique(redis, func, job_id=f"{name}-{n}", result_ttl=3600)
    # Next months' ledger partitions, once an hour (idempotent; the default partition catches
    # anything in between, see migration 0003).
    hour = int((now or time.time()) // 3600)
    queued |= enqueue_unique(redis, ensure_partitions_job, job_id=f"ledger-partitions-{hour}")
    # Ended dashboard sessions and refused sign-ins past their keeping time (domain/admins.py).
    queued |= enqueue_unique(redis, prune_sign_in_records_job, job_id=f"sign-in-records-{hour}")
    # Reminders of money due and the wholesalers' weekly summary (off unless REMINDER_AFTER_DAYS
    # is set): once an hour at most.
    queued |= enqueue_unique(redis, send_payment_reminders, job_id=f"payment-reminders-{hour}")
    queued |= enqueue_unique(redis, send_wholesaler_summaries, job_id=f"owed-summaries-{hour}")
    return queued


def sweep_after_worker_deaths(settings: Settings, dead: list[str]) -> None:
    """Workers died: a job one of them had taken off its queue but not yet started is in no queue
    and no registry. The message sweep looks at every row still to do now (one per dead worker)."""
    log.warning("worker(s) gone: %s; sweeping for the jobs they held", ", ".join(dead))
    redis = runtime.redis_for(settings)
    for name in dead:
        enqueue_unique(redis, sweep_messages, job_id=f"sweep-lost-{name}", kwargs={"jobs_lost": True}, result_ttl=600)


def _sweep_clock(settings: Settings, stop: threading.Event) -> None:
    # A sweep at start as well: a worker restarted after everything was down recovers at once.
    while True:
        wait: float = settings.sweep_interval_seconds
        try:
            enqueue_sweep(settings)
            ThokWorker.redis_watch.back()
        except RedisError as exc:  # Redis away: the next tick tries again, PostgreSQL keeps the work
            ThokWorker.redis_watch.lost(exc)  # one line per outage, not one per tick
            wait = min(wait, REDIS_AWAY_TICK)  # the first sweep once it is back: within a second
        if stop.wait(wait):
            return


def run_worker(settings: Settings, burst: bool = False) -> bool:
    logging.getLogger("rq.worker").setLevel(logging.INFO)
    quiet_rq_redis_errors()
    context.configure(settings)
    stop = threading.Event()
    redis = runtime.redis_for(settings)
    serve_worker_metrics(settings, redis)
    # Jobs run in this process, not in a fork per job: each job is one short transaction, and a
    # fork would open new PostgreSQL and Redis connections every time (measured in
    # bench/orders_e2e.py). RQ still enforces job timeouts (signals, main thread); the database
    # rolls back whatever a crashed job left open, and every job is safe to run again.
    if burst:  # one pass over what is queued and due (RQ's scheduler runs once, in this process)
        return ThokWorker(list(QUEUES), connection=redis).work(burst=True, with_scheduler=True)
    threading.Thread(target=_sweep_clock, args=(settings, stop), name="sweep-clock", daemon=True).start()
    # Scheduler, liveness and reclaiming dead workers' jobs: a thread of this process (see
    # workers.supervision), so nothing outlives the worker and a Redis restart costs seconds.
    # Its own connection: RQ stretches the worker's socket timeout to its long BLPOP.
    duties = WorkerDuties(
        runtime.redis_for(settings), QUEUES, on_dead=lambda dead: sweep_after_worker_deaths(settings, dead)
    ).start()
    worked = False
    try:
        while True:
            ThokWorker.redis_watch.wait_for(redis)
            worker: ThokWorker | None = None
            try:
                worker = ThokWorker(list(QUEUES), connection=redis, beats=True)  # counts and logs every job
                duties.attach(worker.name)
                worked |= worker.work(burst=False, with_scheduler=False)
            except RedisError as exc:  # lost at start or on the way out: wait, then a fresh worker
                ThokWorker.redis_watch.lost(exc)
            except StopRequested:  # a stop signal between two workers
                return worked
            if worker is not None and worker.stop_asked:
                return worked
            # RQ's loop gave up (Redis lost mid-job): its job is reclaimed from the started registry
            # once this worker's name stops beating; carry on with a new worker.
            if worker is not None:
                worker.unsubscribe_quietly()
            time.sleep(1)
    finally:
        duties.close()
        stop.set()
