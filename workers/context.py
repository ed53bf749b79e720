"""What a job needs (settings, database, Redis, channel), built once per process.

Jobs take plain ids and call `get_services()`. The worker entrypoint calls `configure(settings)`
before it starts; tests call it with their own settings so jobs use the test database and Redis.
Built lazily, so a forked work-horse opens its own connections instead of sharing the parent's.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from channels import channel_for
from channels.base import Channel
from db.session import Database
from thok import runtime
from thok.config import Settings


@dataclass
class JobServices:
    settings: Settings
    database: Database
    redis: Redis
    channel: Channel


_settings: Settings | None = None
_services: JobServices | None = None


def configure(settings: Settings | None) -> None:
    """Use these settings for jobs in this process (None: back to the environment's)."""
    global _settings, _services
    if _services is not None:
        _services.database.dispose()
        _services.redis.close()
    _settings, _services = settings, None


def get_services() -> JobServices:
    global _services
    if _services is None:
        settings = _settings or runtime.settings()
        redis = runtime.redis_for(settings)
        _services = JobServices(settings, runtime.database_for(settings), redis, channel_for(settings, redis))
    return _services
