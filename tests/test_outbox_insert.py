"""outbox.queue_messages writes a transaction's messages in one fixed statement, whatever their count.

The rows go as one JSON document: the SQL text is the same for one message or many, so it is
parsed once (SQLAlchemy's cache, psycopg's, which skips a text with more than 50 parameters), and
the rows are what the per-row INSERT wrote: a long body split, the buttons with its last part, a
key seen before skipped, content variables None stored as JSON null.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from domain.messaging import split_body
from domain.outbox import OutboxMessage, queue_messages
from handlers import Choice


@pytest.fixture
def statements(session: Session) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []
    engine = session.get_bind()

    def note(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _stored(session: Session, ids: list[int]) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in session.execute(
            text(
                "SELECT idempotency_key, to_number, body, kind, content_variables, jsonb_typeof(content_variables),"
                " media_url FROM outbound_messages WHERE id = ANY(:ids) ORDER BY id"
            ),
            {"ids": ids},
        )
    ]


def test_one_message_and_many_in_the_same_statement(session: Session, statements: list[tuple[str, Any]]) -> None:
    one = queue_messages(session, [OutboxMessage(to="+9779800000201", body="one", idempotency_key="ins:one")])
    long_body = "\n".join(f"line {n} " + "x" * 90 for n in range(40))
    parts = len(split_body(long_body))
    assert parts == 3
    many = queue_messages(
        session,
        [
            OutboxMessage(to="+9779800000202", body="a", idempotency_key="ins:a", kind="notice"),
            OutboxMessage(to="+9779800000203", body="again", idempotency_key="ins:one"),  # seen: skipped
            OutboxMessage(
                to="+9779800000204",
                body=long_body,
                idempotency_key="ins:long",
                content_variables={"1": "TK-1"},
                choices=[Choice("YES", "हो")],
            ),
            OutboxMessage(to="+9779800000205", body="pdf", idempotency_key="ins:pdf", media_url="https://x/s.pdf"),
        ],
    )
    inserts = [(sql, params) for sql, params in statements if sql.lstrip().startswith("INSERT INTO outbound_messages")]
    assert len(inserts) == 2 and inserts[0][0] == inserts[1][0]
    assert all(len(params) == 1 for _, params in inserts)  # one JSON text: no Python dump per element
    assert len(one) == 1 and len(many) == 2 + parts  # a, the long body's parts, pdf
    rows = _stored(session, one + many)
    assert [r[0] for r in rows] == ["ins:one", "ins:a", "ins:long", "ins:long#2", "ins:long#3", "ins:pdf"]
    assert rows[0][4:6] == (None, "null") and rows[1][3] == "notice"
    assert "\n".join(r[2] for r in rows[2:5]) == long_body
    assert rows[2][4] == {"1": "TK-1"} and rows[4][4] == {"1": "TK-1", "choices": [["YES", "हो"]]}
    assert rows[5][6] == "https://x/s.pdf" and rows[1][6] is None
    assert queue_messages(session, [OutboxMessage(to="+9779800000202", body="a", idempotency_key="ins:a")]) == []
