"""Database URLs as people write them, turned into SQLAlchemy's: here, under everything that opens
an engine (db.session, db.migrate, migrations/env.py); thok.config checks DATABASE_URL with it."""

from __future__ import annotations


class BadDatabaseUrl(ValueError):
    """Not a PostgreSQL URL; the message says what it started with, never the password."""


def to_psycopg_url(url: str) -> str:
    """Accept the ordinary `postgresql://` / `postgres://` forms and select the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise BadDatabaseUrl(f"DATABASE_URL must start with postgresql:// (got {url.split(':', 1)[0]}://...)")
