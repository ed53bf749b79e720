"""Read routing: read-only work goes to a streaming replica when one is configured, is caught up
enough, and answers; otherwise to the primary.

- Read-your-writes: after a unit of work commits, the primary's WAL insert position
  (`pg_current_wal_insert_lsn()`, at or past that commit record) is remembered (a contextvar here;
  the dashboard keeps it in the admin's session cookie). A read asking for that LSN goes to the replica only if
  `pg_last_wal_replay_lsn()` there has reached it; the check runs on the very connection the read
  then uses, so it costs one round trip and no second connection.
- A replica that does not answer is skipped with a warning (never an error for the reader) and not
  tried again for `retry_after` seconds, so a dead host does not add a connect timeout to every page.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

# The WAL position after this context's last commit (a request, a job, a CLI command).
last_write_lsn: ContextVar[str | None] = ContextVar("last_write_lsn", default=None)


class ReplicaRouter:
    def __init__(self, primary: Engine, replica: Engine | None, retry_after: float = 10.0):
        self.primary = primary
        self.replica = replica
        self.retry_after = retry_after
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.last_route = "primary"  # what the latest read used: "replica", "primary" or "primary:<why>"

    def note_commit(self) -> str | None:
        """Remember where the primary's WAL is after a commit (only with a replica to compare to)."""
        if self.replica is None:
            return None
        with self.primary.connect() as conn:
            # The insert position, not the write position: with synchronous_commit off the commit
            # record may still sit in WAL buffers, behind pg_current_wal_lsn().
            lsn = str(conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar())
        last_write_lsn.set(lsn)
        return lsn

    def _replica_connection(self, after_lsn: str | None) -> tuple[Connection | None, str]:
        if self.replica is None:
            return None, "primary"
        if time.monotonic() < self._down_until:
            return None, "primary:replica-down"
        try:
            conn = self.replica.connect()
        except DBAPIError as exc:
            with self._lock:
                self._down_until = time.monotonic() + self.retry_after
            log.warning("replica unreachable, reading from the primary for %.0fs: %s", self.retry_after, exc.orig)
            return None, "primary:replica-down"
        if after_lsn is None:
            return conn, "replica"
        try:
            caught_up = conn.execute(
                text("SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn), false)"), {"lsn": after_lsn}
            ).scalar()
            conn.rollback()
        except DBAPIError as exc:
            conn.close()
            log.warning("replica failed the lag check, reading from the primary: %s", exc.orig)
            return None, "primary:replica-down"
        if caught_up:
            return conn, "replica"
        conn.close()
        return None, "primary:replica-behind"

    @contextmanager
    def read_connection(self, after_lsn: str | None = None) -> Iterator[Connection]:
        conn, route = self._replica_connection(after_lsn if after_lsn is not None else last_write_lsn.get())
        self.last_route = route
        if conn is None:
            conn = self.primary.connect()
        try:
            yield conn
        finally:
            conn.close()
