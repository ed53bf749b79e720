"""db/session.py's soft-delete hook: live rows only for ORM SELECTs, at no more cost than needed.

A statement built once (a module constant on the hot paths) is given the criteria once: the same
criteria-applied statement runs every time, so SQLAlchemy's memoised cache key is reused instead of
computed again per execution. Core statements (tables, not entities) are left as they are: loader
criteria do not apply to them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Retailer
from domain.parties import register_retailer

_ORM = select(Retailer.id).where(Retailer.district == "Criteria")
_CORE = select(Retailer.__table__.c.id).where(Retailer.__table__.c.district == "Criteria")


@pytest.fixture
def ran(orm_executes: list[Any]) -> list[Any]:
    """The statements as the hook left them (conftest's `orm_executes`)."""
    return orm_executes


def test_a_statement_built_once_gets_its_criteria_once(session: Session, ran: list[Any]) -> None:
    session.execute(_ORM).all()
    session.execute(_ORM).all()
    assert len(ran) == 2 and ran[0] is ran[1] and ran[0] is not _ORM


def test_the_criteria_still_hide_a_row_deleted_after_the_first_run(session: Session) -> None:
    kept = register_retailer(session, name="Kept", phone="+9779800000101", district="Criteria")
    gone = register_retailer(session, name="Gone", phone="+9779800000102", district="Criteria")
    session.flush()
    assert set(session.scalars(_ORM)) == {kept.id, gone.id}
    gone.deleted_at = datetime.now(UTC)
    session.flush()
    assert set(session.scalars(_ORM)) == {kept.id}
    assert set(session.scalars(_ORM.execution_options(include_deleted=True))) == {kept.id, gone.id}


def test_a_core_statement_is_left_as_it_is(session: Session, ran: list[Any]) -> None:
    session.execute(_CORE).all()
    assert ran == [_CORE]
