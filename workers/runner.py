"""`thok worker`: an RQ worker with the scheduler, listening on Thok's queues."""

from __future__ import annotations

import logging
import threading
import time

from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.exceptions import DuplicateJobError

from thok import runtime
from thok.config import Settings
from workers import context

QUEUES = ("inbound", "decisions", "outbound", "default")  # drained in this order
log = logging.getLogger(__name__)


def enqueue_sweep(settings: Settings, now: float | None = None) -> bool:
    """Queue the message sweep for the current interval. The job id names the interval, so with
    several workers running only one sweep per interval is queued."""
    bucket = int((now or time.time()) // settings.sweep_interval_seconds)
    queue = Queue("default", connection=runtime.redis_for(settings))
    queued = False
    # Messages (inbound never queued, outbound stuck) and orders (windows and accept deadlines
    # past due): each re-derived from PostgreSQL, so a lost timer or a Redis outage only delays.
    for func, name in (("workers.sweeps.sweep_messages", "sweep"), ("workers.orders.sweep_orders", "sweep-orders")):
        try:
            queue.enqueue(func, job_id=f"{name}-{bucket}", unique=True, result_ttl=3600)
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
    worker = Worker(list(QUEUES), connection=runtime.redis_for(settings))
    try:
        return worker.work(burst=burst, with_scheduler=True)
    finally:
        stop.set()
