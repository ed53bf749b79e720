"""The benches' own databases: each script creates, uses and drops databases of its own on the
server it is pointed at (never the application's)."""

from __future__ import annotations

import re

import psycopg
from psycopg import sql


def database_url(admin_url: str, name: str) -> str:
    """The same server and credentials, database `name` (query parameters kept)."""
    return re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", admin_url.rstrip("/"), count=1)


def recreate_database(admin_url: str, name: str, drop_only: bool = False) -> str:
    """Drop `name` (connections closed by force) and, unless `drop_only`, create it empty."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(admin_url, name)
