"""Every Prometheus metric Thok exposes, defined here and only here.

Web (gunicorn) and the RQ worker are both multi-process: gunicorn forks its workers, RQ forks a
work-horse per job. prometheus_client's multiprocess mode keeps each process's values in mmap
files under PROMETHEUS_MULTIPROC_DIR, and a scrape sums them. The entrypoint exports that folder
(`thok.config.metrics_dir_for`) before this module is first imported; without it (tests, the CLI)
values live in this process's memory and the default registry serves them.

Three kinds of figures:
- counters and histograms, moved by the code where the event happens (webhook, jobs, database hooks);
- gauges read from PostgreSQL by the periodic `workers.metrics.refresh_gauges` job (orders by
  status, index usage, soft-deleted rows): whole-table counts, too heavy to run per scrape;
- gauges computed at scrape time by `LiveGauges` (queue depth, inbound backlog, open orders): each a
  bounded query on a partial index or a Redis LLEN, and they must stay true when the workers are
  down, which is exactly when a job-refreshed gauge would go stale.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from db import instrument

log = logging.getLogger(__name__)

# --- multiprocess wiring -------------------------------------------------------------------------

_worker_pid: int | None = None


def _process_identifier() -> str:
    """Names this process's metric files. An RQ worker forks a new work-horse for every job, and
    with the default (the pid) each job would leave its own files behind: thousands a day, each
    read on every scrape. A worker runs at most one horse at a time, so its horses can take turns
    on one set of files ("horse"), each continuing the counts of the one before."""
    pid = os.getpid()
    if _worker_pid is not None and pid != _worker_pid:
        return "horse"
    return str(pid)


MULTIPROCESS: bool = bool(getattr(values.ValueClass, "_multiprocess", False))
if MULTIPROCESS:
    values.ValueClass = values.MultiProcessValue(process_identifier=_process_identifier)


def track_work_horses() -> None:
    """Called by the RQ worker process before it forks its first horse."""
    global _worker_pid
    _worker_pid = os.getpid()


# --- the web edge --------------------------------------------------------------------------------

WEBHOOK_REQUESTS = Counter(
    "thok_webhook_requests_total",
    "Twilio webhook requests by route and outcome (accepted, duplicate, forged, bad_request, error).",
    ["route", "outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "thok_webhook_request_duration_seconds",
    "Time to answer a Twilio webhook.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MESSAGES_IN = Counter(
    "thok_messages_in_total",
    "Inbound WhatsApp messages by what happened: received, duplicate, processed, failed.",
    ["status"],
)
MESSAGES_OUT = Counter(
    "thok_messages_out_total",
    "Outbound messages by step: outboxed, queued/sent (the provider accepted), retried, failed, "
    "and the provider's later delivered, read, undelivered.",
    ["status"],
)

# --- jobs and the offer process ------------------------------------------------------------------

JOBS = Counter(
    "thok_jobs_total",
    "RQ jobs run, by queue, job and outcome (finished, failed, retried).",
    ["queue", "job", "outcome"],
)
JOB_DURATION = Histogram(
    "thok_job_duration_seconds",
    "RQ job run time.",
    ["queue", "job"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
DECISIONS = Counter(
    "thok_decisions_total", "Offer decisions by outcome (won, expired, conflict, not_open).", ["outcome"]
)
_WINDOW_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
OFFER_WINDOW = Histogram(
    "thok_offer_window_seconds", "How long an order's offer window was open.", buckets=_WINDOW_BUCKETS
)
OFFERS_PER_ORDER = Histogram(
    "thok_offers_per_order", "Wholesalers' answers per decided order.", buckets=(0, 1, 2, 3, 4, 5, 6, 8, 10, 15)
)
TIME_TO_WINNER = Histogram(
    "thok_time_to_winner_seconds", "From the order to its winning wholesaler.", buckets=_WINDOW_BUCKETS
)

# --- the database's guarantees -------------------------------------------------------------------

CONSTRAINT_VIOLATIONS = Counter(
    "thok_constraint_violations_total",
    "Writes PostgreSQL refused, by constraint name (from the error's diagnostics) and kind.",
    ["constraint", "kind"],
)
LEDGER_ATTEMPTS = Counter(
    "thok_ledger_modification_attempts_total",
    "UPDATE/DELETE/TRUNCATE on ledger_entries refused by the append-only triggers.",
    ["operation"],
)
for _op in ("UPDATE", "DELETE", "TRUNCATE"):
    LEDGER_ATTEMPTS.labels(_op)  # present at 0, so the first attempt is an increase an alert sees
SLOW_QUERIES = Counter("thok_slow_queries_total", "Statements slower than SLOW_QUERY_SECONDS.")


class _DatabaseWatcher:
    """db/instrument.py's hooks count here: it sees the statements, this module owns the counters."""

    def slow_query(self) -> None:
        SLOW_QUERIES.inc()

    def ledger_attempt(self, operation: str) -> None:
        LEDGER_ATTEMPTS.labels(operation).inc()

    def constraint_violation(self, constraint: str, kind: str) -> None:
        CONSTRAINT_VIOLATIONS.labels(constraint, kind).inc()


# When this module is imported the entrypoint has chosen the metrics mode (multiprocess or not), so
# counting starts then, for every engine of the process, whenever it was made.
instrument.add_watcher(_DatabaseWatcher())

# --- the dashboard's door ------------------------------------------------------------------------

DASHBOARD_LOGINS = Counter(
    "thok_dashboard_logins_total",
    "Dashboard sign-ins: ok, failed (wrong email or password), locked (refused while throttled).",
    ["outcome"],
)
for _outcome in ("ok", "failed", "locked"):
    DASHBOARD_LOGINS.labels(_outcome)  # present at 0: a burst of failures is an increase from 0

# --- refreshed by the periodic job (mostrecent: the last refresh wins across processes) ----------

ORDERS = Gauge("thok_orders", "Orders by status.", ["status"], multiprocess_mode="mostrecent")
SOFT_DELETED = Gauge(
    "thok_soft_deleted_rows", "Soft-deleted rows per table.", ["table"], multiprocess_mode="mostrecent"
)
_INDEX_LABELS = ["table", "index", "unique"]
INDEX_SCANS = Gauge(
    "thok_index_scans",
    "Index scans since PostgreSQL's statistics were reset (pg_stat_user_indexes.idx_scan).",
    _INDEX_LABELS,
    multiprocess_mode="mostrecent",
)
INDEX_SIZE = Gauge("thok_index_size_bytes", "Index size on disk.", _INDEX_LABELS, multiprocess_mode="mostrecent")
INDEX_BLOAT = Gauge(
    "thok_index_bloat_ratio",
    "Estimated share of a btree index that is dead space (0..1).",
    _INDEX_LABELS,
    multiprocess_mode="mostrecent",
)
GAUGES_REFRESHED = Gauge(
    "thok_gauges_refreshed_timestamp_seconds",
    "When the periodic gauges were last refreshed.",
    multiprocess_mode="mostrecent",
)


# --- call-site helpers: one line where the event happens ----------------------------------------


def message_in(status: str, n: int = 1) -> None:
    if n:
        MESSAGES_IN.labels(status).inc(n)


def message_out(status: str, n: int = 1) -> None:
    if n:
        MESSAGES_OUT.labels(status.lower()).inc(n)


def observe_webhook(route: str, outcome: str, seconds: float) -> None:
    WEBHOOK_REQUESTS.labels(route, outcome).inc()
    WEBHOOK_LATENCY.labels(route).observe(seconds)


# --- scrape-time gauges --------------------------------------------------------------------------


@dataclass(eq=False)  # registries key collectors by identity
class LiveGauges:
    """Figures computed when Prometheus scrapes: each source is a callable returning metric
    families, and one that fails (PostgreSQL or Redis down) yields `thok_dependency_up 0` instead
    of failing the whole scrape: /metrics must answer precisely when things are broken."""

    sources: dict[str, Callable[[], Iterable[Metric]]]

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "thok_dependency_up", "Whether the scrape-time queries reached it.", labels=["dependency"]
        )
        for name, source in self.sources.items():
            try:
                families = list(source())
            except Exception as exc:  # any failure of a dependency: report it down, keep the scrape
                log.warning("metrics: %s unavailable at scrape time: %s", name, type(exc).__name__)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def labelled_gauge(name: str, doc: str, label: str, rows: dict[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, value in rows.items():
        family.add_metric([key], value)
    return family


def registry_for(live: LiveGauges | None = None) -> CollectorRegistry:
    """What a scrape reads: every process's values (multiprocess) or this one's, plus `live`."""
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS:
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    if live is not None:
        registry.register(live)
    return registry


def exposition(live: LiveGauges | None = None) -> tuple[bytes, str]:
    return generate_latest(registry_for(live)), CONTENT_TYPE_LATEST


@dataclass(eq=False)  # registries key collectors by identity
class _Forward:
    """The default registry as a collector of a per-scrape registry (no describe(): nothing is
    collected at registration)."""

    registry: Any

    def collect(self) -> Iterator[Metric]:
        return self.registry.collect()  # type: ignore[no-any-return]
