"""Database URLs as people write them, turned into SQLAlchemy's: here, under everything that opens
an engine (db.session, db.migrate, migrations/env.py); thok.config checks DATABASE_URL with it."""

from __future__ import annotations

from urllib.parse import quote


class BadDatabaseUrl(ValueError):
    """Not a PostgreSQL URL; the message says what it started with, never the password."""


def to_psycopg_url(url: str) -> str:
    """Accept the ordinary `postgresql://` / `postgres://` forms and select the psycopg 3 driver.

    libpq's multi-host form (`postgresql://u@h1:5432,h2:5432/db?target_session_attrs=read-write`,
    the one for a primary with a standby, docs/operations.md) is rewritten as SQLAlchemy spells it,
    one `host=h:port` query parameter per host: SQLAlchemy's URL parser reads only one host:port."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + _hosts_as_query(url[len(prefix) :])
    raise BadDatabaseUrl(f"DATABASE_URL must start with postgresql:// (got {url.split(':', 1)[0]}://...)")


def _hosts_as_query(rest: str) -> str:
    """`user@h1:p1,h2:p2/db?q` -> `user@/db?q&host=h1:p1&host=h2:p2`; a single host is left as is."""
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    userinfo, at, hosts = netloc.rpartition("@")
    if "," not in hosts:
        return rest
    params = "&".join(f"host={quote(host, safe=':[]')}" for host in hosts.split(","))
    path, question, query = tail.partition("?")
    query = f"{query}&{params}" if query else params
    return f"{userinfo}{at}{path or '/'}?{query}"
