"""gunicorn's configuration hooks (`gunicorn -c python:thok.gunicorn_conf ...`): Prometheus
multiprocess mode for the web workers, and no control socket.

Loaded by the master before any worker imports the app, so PROMETHEUS_MULTIPROC_DIR is in the
environment before prometheus_client is imported anywhere. The folder is emptied when the master
starts (files from a previous run would add stale counts), and a dead worker's live gauges are
dropped when it exits; its counters stay, so totals never go backwards.
"""

from __future__ import annotations

import sys
from typing import Any

from thok.config import ConfigError, load_settings, metrics_dir_for

try:
    # Checked here, in the master, so a missing or weak setting is one line and exit 1, not each
    # worker's traceback from create_app() and gunicorn's "Worker failed to boot".
    SETTINGS = load_settings()
    SETTINGS.require_production()
except ConfigError as exc:
    sys.exit(f"thok web: {exc}")
METRICS_DIR = metrics_dir_for(SETTINGS, "web")
accesslog = None  # the app writes one JSON line per request (bot.health), with its context
# gunicorn 25.1+ opens a control socket for `gunicornc` at one path per user ($XDG_RUNTIME_DIR or
# ~/.gunicorn/gunicorn.ctl): a second instance on the machine (the chaos run beside the demo, two
# test runs) takes the path over and the first to stop unlinks it, so gunicornc would steer the
# wrong one. Nothing of Thok's uses it: off (tests/test_web_control_socket.py).
control_socket_disable = True


def on_starting(server: Any) -> None:
    for stale in METRICS_DIR.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    # Not for a circle: prometheus_client reads PROMETHEUS_MULTIPROC_DIR when first imported, and
    # this module sets it (metrics_dir_for) only after its imports have run.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(METRICS_DIR))
