"""`thok worker`: an RQ worker with the scheduler, listening on Thok's queues."""

from __future__ import annotations

import logging
import threading
import time

from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DuplicateJobError

from thok import runtime
from thok.config import Settings
from workers import context
from workers.metrics import MeteredSimpleWorker, serve_worker_metrics

# Drained in this order: finish work already decided (timers, then sends) before taking new
# messages in, so replies and notices are not starved by a stream of inbound traffic.
QUEUES = ("decisions", "outbound", "inbound", "default")
log = logging.getLogger(__name__)


def enqueue_sweep(settings: Settings, now: float | None = None) -> bool:
    """Queue the message sweep for the current interval. The job id names the interval, so with
    several workers running only one sweep per interval is queued."""
    bucket = int((now or time.time()) // settings.sweep_interval_seconds)
    queue = Queue("default", connection=runtime.redis_for(settings))
    queued = False
    # Messages (inbound never queued, outbound stuck) and orders (windows and accept deadlines
    # past due): each re-derived from PostgreSQL, so a lost timer or a Redis outage only delays.
    # The metrics gauges read from PostgreSQL are refreshed on the same clock.
    for func, name in (
        ("workers.sweeps.sweep_messages", "sweep"),
        ("workers.orders.sweep_orders", "sweep-orders"),
        ("workers.metrics.refresh_gauges", "refresh-gauges"),
    ):
        try:
            queue.enqueue(func, job_id=f"{name}-{bucket}", unique=True, result_ttl=3600)
            queued = True
        except DuplicateJobError:
            pass
    # Next months' ledger partitions, once an hour (idempotent; the default partition catches
    # anything in between, see migration 0003).
    hour = int((now or time.time()) // 3600)
    try:
        queue.enqueue("db.partitions.ensure_partitions_job", job_id=f"ledger-partitions-{hour}", unique=True)
        queued = True
    except DuplicateJobError:
        pass
    return queued


def _sweep_clock(settings: Settings, stop: threading.Event) -> None:
    while not stop.wait(settings.sweep_interval_seconds):
        try:
            enqueue_sweep(settings)
        except RedisError as exc:  # Redis away: the next tick tries again, PostgreSQL keeps the work
            log.warning("could not queue the sweep: %s", exc)


def run_worker(settings: Settings, burst: bool = False) -> bool:
    logging.getLogger("rq.worker").setLevel(logging.INFO)
    context.configure(settings)
    stop = threading.Event()
    if not burst:
        threading.Thread(target=_sweep_clock, args=(settings, stop), name="sweep-clock", daemon=True).start()
    redis = runtime.redis_for(settings)
    serve_worker_metrics(settings, redis)
    # Jobs run in this process, not in a fork per job: each job is one short transaction, and a
    # fork would open new PostgreSQL and Redis connections every time (measured in
    # bench/orders_e2e.py). RQ still enforces job timeouts (signals, main thread); the database
    # rolls back whatever a crashed job left open, and every job is safe to run again.
    worker = MeteredSimpleWorker(list(QUEUES), connection=redis)  # counts and logs every job
    try:
        return worker.work(burst=burst, with_scheduler=True)
    finally:
        stop.set()
