"""Engine hooks that watch the database work: slow statements, and writes PostgreSQL refused.

- A statement slower than SLOW_QUERY_SECONDS is counted and logged with its SQL (the statement
  text only: parameters may hold phone numbers and message bodies).
- An integrity error is counted by the constraint PostgreSQL names in the error's diagnostics
  (`diag.constraint_name`), so a CHECK that fires in production says which rule was hit.
- The ledger's append-only triggers raise SQLSTATE 23001 ("append-only"): counted apart, because
  an attempt to rewrite the khata is never a normal event.
Only statements through our engines are seen; a psql session's attempts are not.

The counting itself is not done here: `db/` imports nothing above it, so whoever counts (thok.metrics,
when the process imports it) adds a `Watcher`; the log lines are written either way.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext

log = logging.getLogger("thok.db")

# Integrity class SQLSTATEs (23xxx) and what to call them in the metric.
KINDS = {
    "23514": "check",
    "23505": "unique",
    "23503": "foreign_key",
    "23502": "not_null",
    "23P01": "exclusion",
    "23001": "restrict",
}
_LEDGER_OP = re.compile(r"append-only: (\w+)")
MAX_SQL_CHARS = 2000


_instrumented: weakref.WeakSet[Engine] = weakref.WeakSet()


class Watcher(Protocol):
    def slow_query(self) -> None: ...

    def ledger_attempt(self, operation: str) -> None: ...

    def constraint_violation(self, constraint: str, kind: str) -> None: ...


_watchers: list[Watcher] = []


def add_watcher(watcher: Watcher) -> None:
    """Tell `watcher` what every instrumented engine in this process sees (once per watcher)."""
    if watcher not in _watchers:
        _watchers.append(watcher)


def instrument(engine: Engine, slow_query_seconds: float) -> None:
    if engine in _instrumented:  # two Database objects on one engine must not count twice
        return
    _instrumented.add(engine)

    @event.listens_for(engine, "before_cursor_execute")
    def _started(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if context is not None:
            context._thok_started = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _finished(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        started = getattr(context, "_thok_started", None)
        if started is None:
            return
        elapsed = time.perf_counter() - started
        if elapsed >= slow_query_seconds:
            for watcher in _watchers:
                watcher.slow_query()
            log.warning(
                "slow query: %.3f s",
                elapsed,
                extra={"duration_s": round(elapsed, 3), "sql": " ".join(statement.split())[:MAX_SQL_CHARS]},
            )

    @event.listens_for(engine, "handle_error")
    def _refused(ctx: ExceptionContext) -> None:
        orig = ctx.original_exception
        sqlstate = getattr(orig, "sqlstate", None)
        if not sqlstate or not sqlstate.startswith("23"):
            return
        text = str(orig)
        if sqlstate == "23001" and "append-only" in text:
            match = _LEDGER_OP.search(text)
            operation = match.group(1) if match else "UNKNOWN"
            for watcher in _watchers:
                watcher.ledger_attempt(operation)
            log.error("ledger modification refused: %s on ledger_entries", operation, extra={"sqlstate": sqlstate})
            return
        diag = getattr(orig, "diag", None)
        constraint = getattr(diag, "constraint_name", None) or "unknown"
        kind = KINDS.get(sqlstate, "other")
        for watcher in _watchers:
            watcher.constraint_violation(constraint, kind)
        log.warning(
            "constraint %s refused a write",
            constraint,
            extra={
                "constraint": constraint,
                "kind": kind,
                "sqlstate": sqlstate,
                "table": getattr(diag, "table_name", None),
            },
        )
