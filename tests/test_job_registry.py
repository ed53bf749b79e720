"""RQ jobs are registered where they are defined (`@job(queue)`, workers/queueing.py) and enqueued by
function object: every registered job imports under the path RQ stores, sits on a queue a worker
listens to, and nothing outside workers/queueing.py calls RQ's enqueue or names a job by string."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from rq.utils import import_attribute

import workers
from workers import queueing

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "dashboard", "workers", "channels", "handlers", "usecases", "payments", "domain", "db", "thok")
ENQUEUE_CALLS = {"enqueue", "enqueue_at", "enqueue_in", "enqueue_call", "enqueue_many", "enqueue_job"}


def _import_all_workers() -> None:
    for module in pkgutil.iter_modules(workers.__path__):
        importlib.import_module(f"workers.{module.name}")


def test_every_registered_job_imports_under_its_path_on_a_listened_queue() -> None:
    _import_all_workers()
    assert {
        "workers.inbound.process_inbound",
        "workers.outbound.send_outbound",
        "workers.outbound.drain_outbox",
        "workers.orders.close_offer_window",
        "workers.orders.accept_timeout",
        "workers.orders.sweep_orders",
        "workers.sweeps.sweep_messages",
        "workers.metrics.refresh_gauges",
        "workers.payments.check_payment_requests",
        "workers.partitions.ensure_partitions_job",
        "workers.housekeeping.prune_sign_in_records_job",
        "workers.reminders.send_payment_reminders",
        "workers.reminders.send_wholesaler_summaries",
    } <= set(queueing.JOBS)
    for path, spec in queueing.JOBS.items():
        assert import_attribute(path) is spec.func, path  # what a worker resolves from Redis
        assert spec.queue in queueing.QUEUES, path
        assert queueing.spec_of(spec.func) is spec


def test_an_unregistered_function_cannot_be_enqueued(redis) -> None:
    def stray(n: int) -> int:
        return n

    with pytest.raises(LookupError, match="not a registered job"):
        queueing.enqueue_once(redis, stray, 1, job_id="stray-1")
    with pytest.raises(ValueError, match="no worker listens"):
        queueing.job("nowhere")


def _python_files() -> list[Path]:
    return [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]


def test_only_the_registry_calls_rq_enqueue() -> None:
    offenders = []
    for path in _python_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative == "workers/queueing.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ENQUEUE_CALLS:
                offenders.append(f"{relative}:{node.lineno} .{node.func.attr}(")
    assert offenders == []


def test_no_job_is_named_by_a_dotted_string() -> None:
    dotted = re.compile(r"^workers\.[a-z_]+\.[a-z_]+$")
    offenders = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and dotted.match(node.value):
                offenders.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno} {node.value!r}")
    assert offenders == []
