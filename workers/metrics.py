"""The worker's side of monitoring: job outcomes, the periodic gauges job, and the worker's own
/metrics endpoint.

- Every job is counted, timed and logged in one line by `MeteredWorker.perform_job`, which runs in
  the work-horse around the job itself: no job function knows about it. A send the provider put
  off (429, 5xx, a timeout) that RQ retries is that one line, with the reason, not RQ's traceback.
- `refresh_gauges` (queued by the sweep clock each SWEEP_INTERVAL_SECONDS) reads the whole-table
  figures from PostgreSQL into `mostrecent` gauges.
- The worker serves its processes' metrics (itself and its horses, one multiprocess folder) on
  WORKER_METRICS_PORT, with no pushgateway: Prometheus scrapes each worker like a web process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import Metric
from redis import Redis
from rq import SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.job_lifecycle import call_exception_handlers
from rq.queue import Queue
from sqlalchemy import text

from channels.base import TransientSendError
from db.session import Database
from domain import stats
from thok import logging as thok_logging
from thok import metrics
from thok.config import Settings
from workers.context import get_services
from workers.queueing import QUEUES, SWEEP_QUEUE, job

log = logging.getLogger("thok.jobs")


class MeteredMixin:
    _put_off: str | None = None  # why the provider put the running job's send off, if it did

    def perform_job(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> bool:
        name = (job.func_name or "unknown").rsplit(".", 1)[-1]
        thok_logging.reset_context(job_id=job.id, queue=queue.name, job=name)
        self._put_off = None
        started = time.perf_counter()
        ok: bool = super().perform_job(job, queue, *args, **kwargs)  # type: ignore[misc]
        elapsed = time.perf_counter() - started
        if ok:
            outcome = "finished"
        else:
            status = job.get_status(refresh=True)
            outcome = {JobStatus.FAILED: "failed", JobStatus.STOPPED: "stopped"}.get(status, "retried")  # type: ignore[arg-type]
        metrics.JOBS.labels(queue.name, name, outcome).inc()
        metrics.JOB_DURATION.labels(queue.name, name).observe(elapsed)
        extra = {"outcome": outcome, "duration_ms": round(elapsed * 1000, 1), "result": _short(job)}
        if self._put_off is not None:  # e.g. "job send_outbound send-42 retried: HTTP 429 ..."
            extra |= {"error": self._put_off}
            log.warning("job %s %s %s: %s", name, job.id, outcome, self._put_off, extra=extra)
        else:
            log.log(logging.INFO if ok else logging.WARNING, "job %s %s", name, outcome, extra=extra)
        thok_logging.reset_context()
        return ok

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """RQ logs every exception a job raises at ERROR with its traceback: for a send the provider
        put off, two (the HTTP error and ours, chained), one per 429 or 500, though nothing is wrong
        but the provider and RQ will retry. That one says only why, in `perform_job`'s line. The
        exception handlers still run, and the last try's failure is logged in full."""
        exc = exc_info[1] if len(exc_info) > 1 else None
        if isinstance(exc, TransientSendError) and job.should_retry:
            self._put_off = str(exc)
            call_exception_handlers(self._exc_handlers, job, *exc_info)  # type: ignore[attr-defined]
            return
        super().handle_exception(job, *exc_info)  # type: ignore[misc]


def _short(job: Job) -> str | None:
    # The value this very run returned, which RQ keeps on the job (`_result`) once it finished;
    # `job.return_value()` would read the latest stored result back from Redis, a round trip per job.
    result = getattr(job, "_result", None)
    return None if result is None else str(result)[:200]


class MeteredWorker(MeteredMixin, Worker):
    """`thok worker`: RQ's forking worker, counted."""


class MeteredSimpleWorker(MeteredMixin, SimpleWorker):
    """The same, running jobs in its own process (tests, `--burst` debugging)."""


# --- gauges --------------------------------------------------------------------------------------


def queue_gauges(redis: Redis) -> Iterable[Metric]:
    """Waiting, scheduled (retries, timers) and failed jobs per queue: LLEN and ZCARD, cheap enough
    for every scrape."""
    with redis.pipeline(transaction=False) as pipe:
        for name in QUEUES:
            pipe.llen(f"rq:queue:{name}")
            pipe.zcard(f"rq:scheduled:{name}")
            pipe.zcard(f"rq:failed:{name}")
        raw = pipe.execute()
    rows = [raw[i : i + 3] for i in range(0, len(raw), 3)]
    return [
        metrics.labelled_gauge(
            "thok_queue_depth",
            "Jobs waiting in an RQ queue.",
            "queue",
            {q: r[0] for q, r in zip(QUEUES, rows, strict=True)},
        ),
        metrics.labelled_gauge(
            "thok_queue_scheduled_jobs",
            "Jobs scheduled for later (timers, retries).",
            "queue",
            {q: r[1] for q, r in zip(QUEUES, rows, strict=True)},
        ),
        metrics.labelled_gauge(
            "thok_queue_failed_jobs",
            "Jobs in RQ's failed registry.",
            "queue",
            {q: r[2] for q, r in zip(QUEUES, rows, strict=True)},
        ),
    ]


@job(SWEEP_QUEUE)
def refresh_gauges() -> dict[str, int]:
    """The periodic job: whole-table figures into gauges (not per scrape: each is a full count)."""
    services = get_services()
    with services.database.engine.connect() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 30000"))
        orders = stats.orders_by_status(conn)
        deleted = stats.soft_deleted(conn)
        indexes = stats.index_usage(conn)
    for status, n in orders.items():
        metrics.ORDERS.labels(status).set(n)
    for table, n in deleted.items():
        metrics.SOFT_DELETED.labels(table).set(n)
    for ix in indexes:
        labels = (ix.table, ix.index, str(ix.unique).lower())
        metrics.INDEX_SCANS.labels(*labels).set(ix.scans)
        metrics.INDEX_SIZE.labels(*labels).set(ix.size_bytes)
        if ix.bloat_ratio is not None:
            metrics.INDEX_BLOAT.labels(*labels).set(ix.bloat_ratio)
    metrics.GAUGES_REFRESHED.set(time.time())
    return {"orders": sum(orders.values()), "indexes": len(indexes)}


def live_gauges(database: Database, redis: Redis, offer_window_seconds: int) -> metrics.LiveGauges:
    """The scrape-time gauges, for the web's /metrics and each worker's: computed when scraped, so
    they stay true while workers are stuck."""

    def postgres() -> Iterable[Metric]:
        with database.engine.connect() as conn:
            conn.execute(text("SET LOCAL statement_timeout = 2000"))  # a scrape must not hang
            backlog = stats.backlog(conn)
            orders = stats.open_orders(conn, offer_window_seconds)
        return postgres_gauges(backlog, orders, offer_window_seconds)

    return metrics.LiveGauges({"postgres": postgres, "redis": lambda: queue_gauges(redis)})


def postgres_gauges(backlog: stats.Backlog, orders: stats.OpenOrders, window: int) -> list[Metric]:
    return [
        metrics.gauge("thok_inbound_backlog_messages", "Inbound messages stored, not yet processed.", backlog.messages),
        metrics.gauge("thok_inbound_backlog_stale_messages", "Of those, stored more than a minute ago.", backlog.stale),
        metrics.gauge(
            "thok_inbound_backlog_oldest_age_seconds",
            "Age of the oldest unprocessed inbound message (0: none).",
            backlog.oldest_age_seconds,
        ),
        metrics.gauge("thok_open_orders", "Orders waiting for offers (no winner yet).", orders.count),
        metrics.gauge(
            "thok_open_order_oldest_age_seconds", "Age of the oldest order without a winner.", orders.oldest_age_seconds
        ),
        metrics.gauge(
            "thok_orders_without_winner_overdue",
            "Orders with no winner twice their offer window after they were placed.",
            orders.overdue,
        ),
        metrics.gauge("thok_offer_window_setting_seconds", "OFFER_WINDOW_SECONDS in force.", window),
    ]


def serve_worker_metrics(settings: Settings, redis: Redis) -> None:
    """This worker's /metrics on WORKER_METRICS_ADDR:WORKER_METRICS_PORT (port 0: off). Loopback by
    default: the endpoint has no login, and queue names and counts are nobody else's business. A
    port already taken (a second worker on the host without its own port) costs its metrics, never
    the worker."""
    if settings.worker_metrics_port <= 0:
        return
    registry = metrics.registry_for(live_gauges(get_services().database, redis, settings.offer_window_seconds))
    where = f"{settings.worker_metrics_addr}:{settings.worker_metrics_port}"
    try:
        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_addr, registry=registry)
        log.info("worker metrics on %s/metrics", where)
    except OSError as exc:
        log.warning("worker metrics not served: %s: %s", where, exc)
