"""The webhook's INSERT on the pooled connection's psycopg connection (db.session.autocommit_scalar):
the same row as SQLAlchemy's path, duplicates found, the cursor events still fired, driver errors
raised and handled as SQLAlchemy's own, a broken connection invalidated, never an implicit
transaction."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import DataError, OperationalError

from db.models import InboundMessage
from db.session import Database
from domain import messaging
from domain.messaging import IncomingMessage

MESSAGE = IncomingMessage(
    message_sid="SM" + "d" * 32,
    from_number="+9779812345678",
    body="२ केजी चिनी 🙏",
    to_number="+14155238886",
    wa_id="9779812345678",
    profile_name="Ram",
    media_urls=["https://media.example/1", "https://media.example/2"],
    button_payload="YES",
    button_text="Yes",
)

_COMPARED = ("from_number", "to_number", "body", "wa_id", "profile_name", "num_media", "media_urls", "status")


def _row(database: Database, sid: str) -> dict[str, Any]:
    with database.session() as s:
        row = s.scalars(select(InboundMessage).where(InboundMessage.message_sid == sid)).one()
        return {name: getattr(row, name) for name in _COMPARED}


def test_same_row_as_sqlalchemy_and_duplicates_found(fresh_database: Database) -> None:
    with fresh_database.autocommit() as conn:
        first = messaging.store_inbound(conn, MESSAGE)
        assert first is not None
        assert messaging.store_inbound(conn, MESSAGE) is None  # a redelivery: stored once
    other = IncomingMessage(**{**MESSAGE.__dict__, "message_sid": "SM" + "e" * 32})
    with fresh_database.unit_of_work() as uow:  # SQLAlchemy's own path, for comparison
        assert messaging.store_inbound(uow.session, other) is not None
        uow.commit()
    assert _row(fresh_database, MESSAGE.message_sid) == _row(fresh_database, other.message_sid)
    bare = IncomingMessage(message_sid="SM" + "f" * 32, from_number="+9779812345678", body="")
    with fresh_database.autocommit() as conn:
        assert messaging.store_inbound(conn, bare) is not None
    assert _row(fresh_database, bare.message_sid)["media_urls"] == []


def test_bypasses_sqlalchemy_execution_but_fires_cursor_events(fresh_database: Database) -> None:
    executed: list[object] = []
    cursor: list[str] = []
    after: list[str] = []
    engine = fresh_database.engine
    event.listen(engine, "before_execute", lambda *a: executed.append(a[1]))
    event.listen(engine, "before_cursor_execute", lambda c, cur, sql, *a: cursor.append(sql))
    event.listen(engine, "after_cursor_execute", lambda c, cur, sql, *a: after.append(sql))
    with fresh_database.autocommit() as conn:
        assert messaging.store_inbound(conn, MESSAGE) is not None
    assert executed == []  # not through Connection.execute (fails before: the INSERT was)
    assert len(cursor) == 1 and cursor[0].startswith("INSERT INTO inbound_messages") and after == cursor


def test_slow_query_still_logged(fresh_database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    database = Database(fresh_database_url, slow_query_seconds=0.0)
    try:
        with caplog.at_level(logging.WARNING, logger="thok.db"), database.autocommit() as conn:
            messaging.store_inbound(conn, MESSAGE)
        slow = [r for r in caplog.records if r.getMessage().startswith("slow query")]
        assert slow and "INSERT INTO inbound_messages" in slow[0].sql  # type: ignore[attr-defined]
    finally:
        database.dispose()


def test_a_driver_error_is_sqlalchemys(fresh_database: Database) -> None:
    too_long = IncomingMessage(message_sid="SM" + "x" * 80, from_number="+9779812345678", body="hi")
    with pytest.raises(DataError), fresh_database.autocommit() as conn:
        messaging.store_inbound(conn, too_long)
    with fresh_database.autocommit() as conn:  # the connection went back usable
        assert messaging.store_inbound(conn, MESSAGE) is not None


def test_a_broken_connection_raises_operational_error_and_is_invalidated(fresh_database_url: str) -> None:
    database = Database(fresh_database_url, pool_size=1, max_overflow=0)  # the pool holds one connection
    try:
        with database.autocommit() as conn:
            pid = conn.scalar(text("SELECT pg_backend_pid()"))
        with psycopg.connect(fresh_database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(OperationalError), database.autocommit() as conn:  # the webhook's 503
            messaging.store_inbound(conn, MESSAGE)
        with database.autocommit() as conn:  # not handed back: a new, working connection
            assert conn.scalar(text("SELECT pg_backend_pid()")) != pid
            assert messaging.store_inbound(conn, MESSAGE) is not None
    finally:
        database.dispose()


def test_a_connection_in_a_transaction_keeps_sqlalchemys_path(fresh_database: Database) -> None:
    with fresh_database.engine.connect() as conn:
        assert messaging.store_inbound(conn, MESSAGE) is not None
        conn.rollback()
    with fresh_database.session() as s:  # rolled back with its transaction: nothing implicit
        assert s.scalar(select(InboundMessage.id).where(InboundMessage.message_sid == MESSAGE.message_sid)) is None


def test_autocommit_commits_each_statement_and_hands_back_a_transactional_connection(fresh_database_url: str) -> None:
    database = Database(fresh_database_url, pool_size=1, max_overflow=0)  # one connection, reused
    try:
        with database.autocommit() as conn:
            conn.execute(text("CREATE TABLE w2_probe (n int)"))
            conn.execute(text("INSERT INTO w2_probe VALUES (1)"))
            messaging.store_inbound(conn, MESSAGE)
            conn.rollback()  # nothing to undo: each statement committed as it ran
        with database.engine.connect() as conn:  # the same connection, back in transactions
            assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
            conn.execute(text("INSERT INTO w2_probe VALUES (2)"))
            conn.rollback()
            assert conn.scalar(text("SELECT count(*) FROM w2_probe")) == 1
            assert conn.scalar(text("SELECT count(*) FROM inbound_messages")) == 1
        with pytest.raises(RuntimeError), database.autocommit():
            raise RuntimeError("the route failed")
        with database.engine.connect() as conn:
            assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
    finally:
        database.dispose()
