"""gunicorn's configuration hooks (`gunicorn -c python:thok.gunicorn_conf ...`): Prometheus
multiprocess mode for the web workers.

Loaded by the master before any worker imports the app, so PROMETHEUS_MULTIPROC_DIR is in the
environment before prometheus_client is imported anywhere. The folder is emptied when the master
starts (files from a previous run would add stale counts), and a dead worker's live gauges are
dropped when it exits; its counters stay, so totals never go backwards.
"""

from __future__ import annotations

from typing import Any

from thok.config import load_settings, metrics_dir_for

METRICS_DIR = metrics_dir_for(load_settings(), "web")
accesslog = None  # the app writes one JSON line per request (bot.health), with its context


def on_starting(server: Any) -> None:
    for stale in METRICS_DIR.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(METRICS_DIR))
