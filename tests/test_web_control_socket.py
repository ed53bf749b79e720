"""gunicorn (25.1 and later) opens a control socket for `gunicornc` at one path per user
($XDG_RUNTIME_DIR/gunicorn.ctl, else ~/.gunicorn/gunicorn.ctl). A second instance on the machine (the
chaos run beside the demo, two test runs) unlinks the first's socket and takes the path over, and
the first to stop unlinks the other's: `gunicornc` then talks to the wrong instance, or to none.
thok.gunicorn_conf turns it off; nothing of Thok's uses it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.fake_twilio import free_port
from tests.test_config_and_embedded import _production_env


def _started(log: Path) -> bool:
    return "Booting worker" in log.read_text(errors="replace")


def test_two_web_instances_on_one_machine_open_no_shared_control_socket(tmp_path: Path) -> None:
    runtime_dir = tmp_path / "run"
    runtime_dir.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    procs: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / "web-0.log", tmp_path / "web-1.log"]
    try:
        for n, log in enumerate(logs):
            env = _production_env(
                HOME=str(home), XDG_RUNTIME_DIR=str(runtime_dir), THOK_DATA_DIR=str(tmp_path / f"data-{n}")
            )
            gunicorn = [sys.executable, "-m", "gunicorn", "-c", "python:thok.gunicorn_conf", "-w", "1"]
            with open(log, "wb") as out:
                procs.append(
                    subprocess.Popen(
                        [*gunicorn, "-b", f"127.0.0.1:{free_port()}", "bot.app:create_app()"],
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + 60
        while not all(_started(log) for log in logs):
            assert all(p.poll() is None for p in procs), [log.read_text() for log in logs]
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            time.sleep(0.2)
        time.sleep(1.5)  # the master opens the socket (if it does) right after spawning its workers
        assert all(p.poll() is None for p in procs), [log.read_text() for log in logs]
        sockets = [p for p in (*runtime_dir.rglob("*"), *home.rglob("*")) if p.name.endswith(".ctl")]
        assert sockets == []
        assert not any("control socket" in log.read_text().lower() for log in logs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
