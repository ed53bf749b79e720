"""Configuration from the environment, and the embedded servers shared by several processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from redis import Redis

from db.embedded import with_embedded_servers
from tests.conftest import ROOT
from thok.config import ConfigError, load_settings, to_psycopg_url


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


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM"]
)
def test_production_refuses_to_start_without_a_setting(missing: str) -> None:
    env = {
        "SECRET_KEY": "k",
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_WHATSAPP_FROM": "whatsapp:+1",
    }
    del env[missing]
    with pytest.raises(ConfigError, match=f"^{missing} is not set"):
        load_settings(env).require_production()
    load_settings({**env, "THOK_DEV_MODE": "1"}).require_production()  # the demo may run without them


def test_web_process_fails_at_start_with_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SECRET_KEY", "THOK_DEV"))}
    env.update(DATABASE_URL="postgresql://postgres@127.0.0.1:1/x", REDIS_URL="redis://127.0.0.1:1/0")
    run = subprocess.run(
        [sys.executable, "-c", "from bot.app import create_app; create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "SECRET_KEY is not set" in run.stderr


SHARE = """
import sys, json
from thok.config import load_settings
from db.embedded import with_embedded_servers
s = with_embedded_servers(load_settings({"THOK_DATA_DIR": sys.argv[1]}))
import psycopg, redis
with psycopg.connect(s.database_url) as c:
    pid = c.execute("SELECT pg_postmaster_start_time()::text").fetchone()[0]
redis.Redis.from_url(s.redis_url).set("from-child", "yes")
print(json.dumps({"db": s.database_url, "postmaster": pid}))
"""


def test_embedded_servers_are_shared_between_processes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = with_embedded_servers(load_settings({"THOK_DATA_DIR": str(data_dir)}))
    assert settings.database_url and settings.redis_url
    with psycopg.connect(settings.database_url) as conn:
        started = conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()[0]  # type: ignore[index]
        assert conn.execute("SELECT current_database()").fetchone() == ("thok",)
    child = subprocess.run(
        [sys.executable, "-c", SHARE, str(data_dir)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    import json

    seen = json.loads(child.stdout.strip().splitlines()[-1])
    assert seen["db"] == settings.database_url
    assert seen["postmaster"] == started  # the same PostgreSQL, not a second one
    assert Redis.from_url(settings.redis_url).get("from-child") == b"yes"  # and the same Redis
    assert (data_dir / "pg" / "PG_VERSION").exists()
