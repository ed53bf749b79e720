"""Engine, sessions and the unit of work.

One `Database` per process, built from settings. Handlers and jobs use `database.unit_of_work()`:
the transaction boundary is visible at a glance and nothing commits by accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from db.models import SOFT_DELETE_MODELS
from thok.config import to_psycopg_url


@event.listens_for(Session, "do_orm_execute")
def _live_rows_only(state: ORMExecuteState) -> None:
    """Soft delete, in one place: every ORM SELECT sees live rows only, unless the statement (or
    session) says `execution_options(include_deleted=True)`. Lazy loads of a relationship are left
    alone, so an old order still shows the retailer who was later removed."""
    if (
        state.is_select
        and not state.is_column_load
        and not state.is_relationship_load
        and not state.execution_options.get("include_deleted", False)
    ):
        state.statement = state.statement.options(
            *(
                with_loader_criteria(model, lambda cls: cls.deleted_at.is_(None), include_aliases=True)
                for model in SOFT_DELETE_MODELS
            )
        )


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    # No pre-ping: it costs a round trip on every checkout of the hot webhook path. A connection
    # broken by a database restart fails once (503 to Twilio, which retries; RQ retries jobs) and
    # SQLAlchemy then discards the pool. connect_timeout keeps an unreachable host from hanging us.
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", 1800)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(to_psycopg_url(database_url), **kwargs)


class UnitOfWork:
    """`with db.unit_of_work() as uow: ...; uow.commit()` — rolls back unless committed."""

    def __init__(self, factory: sessionmaker[Session]):
        self._factory = factory
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

    def rollback(self) -> None:
        self.session.rollback()


class Database:
    def __init__(self, database_url: str, engine: Engine | None = None, **engine_kwargs: Any):
        self.url = database_url
        self.engine = engine or make_engine(database_url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read-only convenience: a session that is always rolled back."""
        with self.unit_of_work() as uow:
            yield uow.session

    def dispose(self) -> None:
        self.engine.dispose()
