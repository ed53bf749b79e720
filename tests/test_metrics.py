# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""Metrics end to end: signed webhooks in, the worker runs, /metrics moves by exactly what happened.

Counters live in this process (no multiprocess folder under pytest), so each test reads /metrics
before and after and compares the difference. The multiprocess design is tested in a child process.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from db.session import Database
from domain.parties import register_retailer
from tests.conftest import ROOT
from tests.fake_twilio import (  # noqa: F401 (fixtures)
    PUBLIC,
    app,
    fake_twilio,
    jobs,
    signed_headers,
    thok_settings,
    twilio_form,
)
from workers.metrics import MeteredSimpleWorker, refresh_gauges

PATH = "/webhooks/twilio/whatsapp"
RETAILER = "+9779841000001"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: Any) -> Samples:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.mimetype == "text/plain"
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.get_data(as_text=True))
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def post(client: Any, form: dict[str, str], headers: dict[str, str] | None = None) -> int:
    sig = signed_headers(PATH, form) if headers is None else headers
    return int(client.post(PATH, data=form, headers=sig, base_url=PUBLIC).status_code)


def test_a_conversation_moves_the_counters(app, fresh_database, redis, fake_twilio) -> None:
    with fresh_database.unit_of_work() as uow:
        register_retailer(uow.session, name="Sita", phone=RETAILER, shop_name="Sita Kirana")
        uow.commit()
    client = app.test_client()
    before = scrape(client)

    first, second = twilio_form("SM" + "a" * 32, body="namaste"), twilio_form("SM" + "b" * 32, body="hello")
    assert [post(client, first), post(client, second), post(client, first)] == [200, 200, 200]
    assert post(client, twilio_form("SM" + "c" * 32), headers={"X-Twilio-Signature": "forged"}) == 403
    bad = twilio_form("SM" + "d" * 32)
    del bad["From"]
    assert post(client, bad) == 400

    queued = scrape(client)  # before the worker: two jobs wait, two messages are unprocessed
    assert value(queued, "thok_queue_depth", queue="inbound") == 2
    assert value(queued, "thok_inbound_backlog_messages") == 2
    assert value(queued, "thok_dependency_up", dependency="postgres") == 1
    assert value(queued, "thok_dependency_up", dependency="redis") == 1

    MeteredSimpleWorker(["inbound", "outbound"], connection=redis).work(burst=True, with_scheduler=False)
    after = scrape(client)

    webhook = {"route": "inbound"}
    assert moved(before, after, "thok_webhook_requests_total", outcome="accepted", **webhook) == 2
    assert moved(before, after, "thok_webhook_requests_total", outcome="duplicate", **webhook) == 1
    assert moved(before, after, "thok_webhook_requests_total", outcome="forged", **webhook) == 1
    assert moved(before, after, "thok_webhook_requests_total", outcome="bad_request", **webhook) == 1
    assert moved(before, after, "thok_webhook_request_duration_seconds_count", **webhook) == 5
    assert moved(before, after, "thok_messages_in_total", status="received") == 2
    assert moved(before, after, "thok_messages_in_total", status="duplicate") == 1
    assert moved(before, after, "thok_messages_in_total", status="processed") == 2
    assert moved(before, after, "thok_messages_out_total", status="outboxed") == 2
    assert moved(before, after, "thok_messages_out_total", status="queued") == 2  # Twilio accepted both
    jobs_in = {"queue": "inbound", "job": "process_inbound"}
    assert moved(before, after, "thok_jobs_total", outcome="finished", **jobs_in) == 2
    # Each inbound job sends its own reply after its commit (workers.inbound._send_now): no drain job.
    assert moved(before, after, "thok_jobs_total", outcome="finished", queue="outbound", job="drain_outbox") == 0
    assert moved(before, after, "thok_jobs_total", outcome="finished", queue="outbound", job="send_outbound") == 0
    assert moved(before, after, "thok_job_duration_seconds_count", **jobs_in) == 2
    assert value(after, "thok_queue_depth", queue="inbound") == 0
    assert value(after, "thok_inbound_backlog_messages") == 0
    assert len(fake_twilio.posts()) == 2

    # The provider's later report moves the outbound counter too.
    sid = fake_twilio.accepted[0]["sid"]
    status = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    path = "/webhooks/twilio/status"
    resp = client.post(path, data=status, headers=signed_headers(path, status), base_url=PUBLIC)
    assert resp.status_code == 204
    final = scrape(client)
    assert moved(after, final, "thok_messages_out_total", status="delivered") == 1
    assert moved(after, final, "thok_webhook_requests_total", route="status", outcome="accepted") == 1


def test_retried_jobs_are_counted(app, redis, fake_twilio) -> None:
    client = app.test_client()
    # The reply's first send (the drain's) and its one-row retry: a 5xx each, so RQ retries the
    # one-row job (then 201).
    fake_twilio.script[:] = ["500", "500"]
    before = scrape(client)
    assert post(client, twilio_form("SM" + "e" * 32, sender="+9779800000077", body="hi")) == 200
    MeteredSimpleWorker(["inbound", "outbound"], connection=redis).work(burst=True, with_scheduler=False)
    after = scrape(client)
    labels = {"queue": "outbound", "job": "send_outbound"}
    assert moved(before, after, "thok_jobs_total", outcome="retried", **labels) == 1
    assert moved(before, after, "thok_jobs_total", outcome="finished", **labels) == 1
    assert moved(before, after, "thok_messages_out_total", status="retried") == 2
    assert moved(before, after, "thok_messages_out_total", status="queued") == 1


def test_database_guards_are_counted_by_name(app, fresh_database_url, caplog) -> None:
    client = app.test_client()
    db = Database(fresh_database_url, slow_query_seconds=0.05)
    before = scrape(client)
    caplog.set_level(logging.WARNING, logger="thok.db")
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(0.1)"))
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO outbound_messages (to_number, body, idempotency_key, attempts) "
                    "VALUES ('+9779841000002', 'x', 'k', -1)"
                )
            )
        with pytest.raises(DBAPIError), db.engine.begin() as conn:
            conn.execute(text("TRUNCATE ledger_entries"))
    finally:
        db.dispose()
    after = scrape(client)
    assert moved(before, after, "thok_slow_queries_total") == 1
    assert (
        moved(
            before,
            after,
            "thok_constraint_violations_total",
            constraint="ck_outbound_messages_attempts_non_negative",
            kind="check",
        )
        == 1
    )
    assert moved(before, after, "thok_ledger_modification_attempts_total", operation="TRUNCATE") == 1
    [slow] = [r for r in caplog.records if r.getMessage().startswith("slow query")]
    assert slow.sql == "SELECT pg_sleep(0.1)"  # type: ignore[attr-defined]


def test_periodic_gauges_come_from_postgres(app, fresh_database, jobs) -> None:
    from datetime import UTC, datetime

    from db.models import Retailer

    with fresh_database.unit_of_work() as uow:
        retailer = register_retailer(uow.session, name="Gone", phone="+9779841000009", shop_name="Closed")
        retailer.deleted_at = datetime.now(UTC)
        uow.commit()
    assert isinstance(retailer, Retailer)
    refresh_gauges()
    after = scrape(app.test_client())
    assert value(after, "thok_soft_deleted_rows", table="retailers") == 1
    assert value(after, "thok_orders", status="PENDING_OFFERS") == 0
    assert ("thok_orders", (("status", "DELIVERED"),)) in after  # every status is present, at 0 too
    assert value(after, "thok_index_size_bytes", table="orders", index="ix_orders_created_at", unique="false") > 0
    unique_on_orders = [
        k for k in after if k[0] == "thok_index_scans" and ("table", "orders") in k[1] and ("unique", "true") in k[1]
    ]
    assert unique_on_orders  # the primary key and the ref's unique index, labelled so alerts skip them
    assert value(after, "thok_gauges_refreshed_timestamp_seconds") > 0


MULTIPROCESS_CHILD = """
import os, sys
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from thok import metrics

assert metrics.MULTIPROCESS
metrics.track_work_horses()  # as `thok worker` does before its first job
metrics.JOBS.labels("inbound", "process_inbound", "finished").inc()
for _ in range(3):  # three jobs, three forked work-horses
    pid = os.fork()
    if pid == 0:
        metrics.JOBS.labels("inbound", "process_inbound", "finished").inc()
        os._exit(0)
    os.waitpid(pid, 0)
registry = CollectorRegistry()
MultiProcessCollector(registry)
print(registry.get_sample_value(
    "thok_jobs_total", {"queue": "inbound", "job": "process_inbound", "outcome": "finished"}))
print(" ".join(sorted(f for f in os.listdir(sys.argv[1]) if f.startswith("counter_"))))
"""


def test_worker_processes_share_one_folder_and_horses_reuse_their_files(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MULTIPROCESS_CHILD), str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    total, files = result.stdout.split("\n")[:2]
    assert float(total) == 4  # the worker's own count and all three horses', summed
    assert files.split() == [f for f in files.split() if f in ("counter_horse.db",) or f[8:-3].isdigit()]
    assert len(files.split()) == 2  # one file for the worker, one shared by every horse
