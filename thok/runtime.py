"""Process wiring: settings from the environment, embedded servers where URLs are unset, and the
shared Database/Redis handles. Entrypoints (web, worker, CLI) start here; nothing else does."""

from __future__ import annotations

import logging
from functools import cache

from redis import Redis

from db.embedded import start_embedded_postgres, start_embedded_redis
from db.session import Database
from thok.config import SERVER_NEEDS, Settings, load_settings

log = logging.getLogger(__name__)


@cache
def settings() -> Settings:
    """The environment's settings; in dev mode (the demo) unset URLs get the embedded servers, in
    production a missing DATABASE_URL or REDIS_URL stops the process here, before anything starts."""
    loaded = load_settings()
    loaded.require_production(SERVER_NEEDS)
    return with_embedded_servers(loaded)


def with_embedded_servers(settings: Settings) -> Settings:
    """Fill in DATABASE_URL / REDIS_URL with embedded servers where they are unset."""
    changes: dict[str, str] = {}
    if settings.database_url is None:
        changes["database_url"] = start_embedded_postgres(settings.data_dir)
        log.info("embedded PostgreSQL in %s", settings.data_dir / "pg")
    if settings.redis_url is None:
        changes["redis_url"] = start_embedded_redis(settings.data_dir)
        log.info("embedded Redis in %s", settings.data_dir)
    return settings.with_overrides(**changes) if changes else settings


def database_for(settings: Settings) -> Database:
    assert settings.database_url, "with_embedded_servers() fills database_url"
    return Database(
        settings.database_url,
        slow_query_seconds=settings.slow_query_seconds,
        replica_url=settings.database_replica_url,
    )


def redis_for(settings: Settings) -> Redis:
    assert settings.redis_url, "with_embedded_servers() fills redis_url"
    # Short timeouts: a webhook must not hang on a dead Redis (the sweep catches up later).
    return Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
