"""Engine, sessions and the unit of work.

One `Database` per process, built from settings. Handlers and jobs use `database.unit_of_work()`:
the transaction boundary is visible at a glance and nothing commits by accident.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, cast

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import MultipleResultsFound
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from db.instrument import instrument
from db.models import SOFT_DELETE_MODELS
from db.replica import ReplicaRouter, last_write_lsn
from db.urls import to_psycopg_url

# Built once: the options are immutable and cacheable, and building them on every SELECT cost
# about 100 us per statement on the hot paths.
_LIVE_ONLY = tuple(
    with_loader_criteria(model, lambda cls: cls.deleted_at.is_(None), include_aliases=True)
    for model in SOFT_DELETE_MODELS
)


# Each statement with the criteria added, built once per statement object: a statement built once
# (a module constant) then keeps its memoised cache key, where a fresh `.options()` copy on every
# execution was keyed again each time (4-7% of an inbound job's CPU).
_WITH_LIVE_ONLY: weakref.WeakKeyDictionary[Executable, Executable] = weakref.WeakKeyDictionary()


@event.listens_for(Session, "do_orm_execute")
def _live_rows_only(state: ORMExecuteState) -> None:
    """Soft delete, in one place: every ORM SELECT sees live rows only, unless the statement (or
    session) says `execution_options(include_deleted=True)`. Lazy loads of a relationship are left
    alone, so an old order still shows the retailer who was later removed. Hand-written SQL
    (`from_statement`) says its own WHERE. A Core statement (over tables, not entities) is left
    alone too: loader criteria only apply to entities, so adding them there only cost keying."""
    if (
        state.is_select
        and state.is_orm_statement
        and not state.is_from_statement
        and not state.is_column_load
        and not state.is_relationship_load
        and not state.execution_options.get("include_deleted", False)
    ):
        statement = state.statement
        live = _WITH_LIVE_ONLY.get(statement)
        if live is None:
            live = _WITH_LIVE_ONLY[statement] = statement.options(*_LIVE_ONLY)
        state.statement = live


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    # No pre-ping: it costs a round trip on every checkout of the hot webhook path. A connection
    # broken by a database restart fails once (503 to Twilio, which retries; RQ retries jobs) and
    # SQLAlchemy then discards the pool. connect_timeout keeps an unreachable host from hanging us.
    # With a multi-host URL (target_session_attrs=read-write) the next connection finds whichever
    # server takes writes, so a promoted standby is found the same way (tests/test_failover.py).
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", 1800)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    # A failed statement's error (a traceback, a failed job, a log line) names the SQL, never the
    # values: they are phone numbers, messages, or a whole price list's 65,535 parameters.
    kwargs.setdefault("hide_parameters", True)
    return create_engine(to_psycopg_url(database_url), **kwargs)


class UnitOfWork:
    """`with db.unit_of_work() as uow: ...; uow.commit()` — rolls back unless committed."""

    def __init__(self, factory: sessionmaker[Session], on_commit: Callable[[], object] | None = None):
        self._factory = factory
        self._on_commit = on_commit
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()
        if self._on_commit is not None:
            self._on_commit()  # read-your-writes: see db/replica.py

    def rollback(self) -> None:
        self.session.rollback()


class Database:
    def __init__(
        self,
        database_url: str,
        engine: Engine | None = None,
        *,
        slow_query_seconds: float = 1.0,
        replica_url: str | None = None,
        **engine_kwargs: Any,
    ):
        self.url = database_url
        self.engine = engine or make_engine(database_url, **engine_kwargs)
        instrument(self.engine, slow_query_seconds)  # slow statements, refused writes: db/instrument.py
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        replica = make_engine(replica_url, connect_args={"connect_timeout": 2}) if replica_url else None
        if replica is not None:
            instrument(replica, slow_query_seconds)
        self.router = ReplicaRouter(self.engine, replica)

    def unit_of_work(self) -> UnitOfWork:
        """Writes, and every read inside a write's transaction: always the primary."""
        return UnitOfWork(self.sessions, self.router.note_commit if self.router.replica is not None else None)

    @contextmanager
    def read_session(self, after_lsn: str | None = None) -> Iterator[Session]:
        """Read-only work (dashboard lists and charts, statements, stats): the replica when one is
        set (DATABASE_REPLICA_URL), has replayed `after_lsn` (default: this context's last commit,
        `last_write_lsn`) and answers; else the primary. Always rolled back."""
        with self.router.read_connection(after_lsn) as conn:
            session = Session(bind=conn, expire_on_commit=False)
            try:
                yield session
            finally:
                session.close()
                conn.rollback()

    def last_write_lsn(self) -> str | None:
        """The primary's WAL position after this context's last commit: keep it with the admin's
        session and pass it to the next `read_session(after_lsn=...)`."""
        return last_write_lsn.get()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read-only convenience: a session that is always rolled back."""
        with self.unit_of_work() as uow:
            yield uow.session

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """For a single statement that is its own transaction (the webhook's INSERT): PostgreSQL
        commits it as it runs, one round trip instead of INSERT then COMMIT; just as durable."""
        with self.engine.connect() as conn:
            # The driver's own switch, set and reset here: SQLAlchemy's isolation_level option
            # went through its connection-characteristics machinery both ways (~35 of ~57 us per
            # checkout). Its statements run as under that option (SQLAlchemy's begin is a no-op
            # for psycopg; its rollback of an idle connection sends nothing).
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.autocommit = True
            try:
                yield conn
            finally:
                if not (driver.closed or driver.broken):  # else invalidated: never reused
                    driver.autocommit = False

    def dispose(self) -> None:
        self.engine.dispose()
        if self.router.replica is not None:
            self.router.replica.dispose()


class _DriverContext:
    """Stands in for SQLAlchemy's execution context in the cursor events (db/instrument.py keeps
    its start time on it)."""


# Per statement object: its SQL for this dialect, its own bound values and the type processors
# (an enum's value, an array), compiled once.
_DRIVER_FORM: weakref.WeakKeyDictionary[Executable, tuple[Any, str, dict[str, Any], dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


def autocommit_scalar(conn: Connection, statement: Executable, params: dict[str, Any]) -> Any:
    """`conn.execute(statement, params).scalar_one_or_none()` on a `Database.autocommit()`
    connection, executed on its psycopg connection: SQLAlchemy's execution path (context, result,
    compiled-cache lookup) cost more CPU than the round trip on the webhook's INSERT (~190 against
    ~400 us). The engine's before/after_cursor_execute events still see the statement (slow-query
    log, statement counts in tests). Any driver error, or a connection not in autocommit (an
    implicit transaction SQLAlchemy would not know of), goes through `conn.execute` instead, on the
    same connection: the error SQLAlchemy raises and handles is then exactly today's (a broken
    connection is invalidated and raises OperationalError, a constraint is counted)."""
    driver = conn.connection.driver_connection
    if driver is None or not driver.autocommit:
        return conn.execute(statement, params).scalar_one_or_none()
    form = _DRIVER_FORM.get(statement)
    if form is None or form[0] is not conn.dialect:
        compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=conn.dialect))
        own = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
        form = _DRIVER_FORM[statement] = (conn.dialect, compiled.string, own, dict(compiled._bind_processors))
    _, sql, own, processors = form
    values = {**own, **params}
    for name, process in processors.items():
        if name in values:
            values[name] = process(values[name])
    dispatch = conn.dispatch
    context = _DriverContext()
    try:
        cursor = driver.cursor()
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(conn, cursor, sql, values, context, False)
        cursor.execute(sql, values)
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(conn, cursor, sql, values, context, False)
        rows = cursor.fetchall() if cursor.description is not None else []
        cursor.close()
    except conn.dialect.loaded_dbapi.Error:
        return conn.execute(statement, params).scalar_one_or_none()
    if len(rows) > 1:
        raise MultipleResultsFound("Multiple rows were found when one or none was required")
    return rows[0][0] if rows else None
