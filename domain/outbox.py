"""The outbox in batches: many messages written in one statement, claimed, and recorded in one.

`domain.messaging` holds the outbox's rules one row at a time (the send job's claim, the crash-window
states, status callbacks). This module is the same rules for the hot path, where one transaction
writes several messages (a reply and the invitations of an order, the notices of a decision) and one
sender sends what is waiting:

- `queue_messages`: one INSERT for all of a transaction's messages, each split as `queue_message`
  splits it, deduplicated on the idempotency key (`ON CONFLICT DO NOTHING`), so a re-run job still
  writes nothing twice.
- `claim_fresh`: the oldest PENDING rows never tried yet, locked `FOR UPDATE SKIP LOCKED` (two senders
  never take the same row), and held for the whole send by a session-level advisory lock
  (`hold_sends`). A row another attempt is still sending is SENDING *and* held: `send_in_flight`
  tells the one-row sender to leave it alone instead of taking it for an attempt that died. The
  lock goes with the connection, so a sender that dies releases it, and the row is then what it was
  before: SENDING, left for the lookup at the provider before any resend.
- `record_sent`: the provider ids and statuses of a batch in one UPDATE, the status moving only
  forward (a fast status callback may already have moved it further).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from db.models import InboundMessage, OutboundMessage, OutboundStatus
from domain.messaging import CHOICES_KEY, STATUS_RANK, split_body

_OUTBOUND = cast(Table, OutboundMessage.__table__)
_COLUMNS = (
    "to_number",
    "body",
    "kind",
    "idempotency_key",
    "in_reply_to_id",
    "order_id",
    "retailer_id",
    "wholesaler_id",
    "content_variables",
    "media_url",
)
# Built once (Core, bind parameters): executed with a list of rows, SQLAlchemy sends one
# multi-row INSERT ... RETURNING (its "insertmanyvalues"), not one statement per message.
_QUEUE = (
    insert(_OUTBOUND)
    .values({name: bindparam(name) for name in _COLUMNS})
    .on_conflict_do_nothing(index_elements=["idempotency_key"])
    .returning(_OUTBOUND.c.id)
)
# The advisory locks' first key: the outbox's own number space (the second is the row id).
SEND_LOCK_SPACE = 0x0B0C


@dataclass(frozen=True)
class OutboxMessage:
    """One message for the outbox, as `messaging.queue_message` takes it."""

    to: str
    body: str
    idempotency_key: str
    kind: str = "reply"
    in_reply_to_id: int | None = None
    order_id: int | None = None
    retailer_id: int | None = None
    wholesaler_id: int | None = None
    content_variables: dict[str, str] | None = None
    media_url: str | None = None
    choices: Sequence[Any] = ()


def _rows(message: OutboxMessage) -> list[dict[str, Any]]:
    parts = split_body(message.body)
    rows = []
    for index, part in enumerate(parts):
        variables: dict[str, Any] = dict(message.content_variables or {})
        if message.choices and index == len(parts) - 1:  # the buttons go with the part that asks
            variables[CHOICES_KEY] = [[c.id, c.title] for c in message.choices]
        rows.append(
            {
                "to_number": message.to,
                "body": part,
                "kind": message.kind,
                "idempotency_key": message.idempotency_key if index == 0 else f"{message.idempotency_key}#{index + 1}",
                "in_reply_to_id": message.in_reply_to_id,
                "order_id": message.order_id,
                "retailer_id": message.retailer_id,
                "wholesaler_id": message.wholesaler_id,
                "content_variables": variables or None,
                "media_url": message.media_url if index == 0 else None,
            }
        )
    return rows


def queue_messages(session: Session, messages: Iterable[OutboxMessage]) -> list[int]:
    """Put messages in the outbox in one statement; the ids of the rows created (a key seen
    before creates nothing), in the messages' order."""
    rows = [row for message in messages for row in _rows(message)]
    if not rows:
        return []
    created = {key: id_ for id_, key in _insert(session, rows)}
    return [created.pop(row["idempotency_key"]) for row in rows if row["idempotency_key"] in created]


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    if len(rows) == 1:
        new_id = session.execute(_QUEUE, rows[0]).scalar_one_or_none()
        return [] if new_id is None else [(new_id, rows[0]["idempotency_key"])]
    # Several rows: RETURNING the key as well, since rows a conflict skipped return nothing.
    stmt = _QUEUE.returning(_OUTBOUND.c.idempotency_key)
    return [(int(r[0]), str(r[1])) for r in session.execute(stmt, rows)]


# --- recipients, many at once --------------------------------------------------------------------


def chosen_language_numbers(session: Session, numbers: Iterable[str]) -> set[str]:
    """Which of these numbers set their language themselves (`messaging.chose_language`, at once)."""
    wanted = sorted(set(numbers))
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(InboundMessage.from_number)
            .where(InboundMessage.from_number.in_(wanted), InboundMessage.intent == "language")
            .distinct()
        )
    )


def latest_inbound_texts(session: Session, numbers: Iterable[str]) -> dict[str, str]:
    """Each number's latest message text (`messaging.latest_inbound_text`, at once)."""
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    rows = session.execute(
        select(InboundMessage.from_number, InboundMessage.body)
        .where(InboundMessage.from_number.in_(wanted))
        .order_by(InboundMessage.from_number, InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .ext(distinct_on(InboundMessage.from_number))
    )
    return {number: body for number, body in rows}


def last_inbound_times(session: Session, numbers: Iterable[str]) -> dict[str, datetime]:
    """When each number last wrote (`messaging.last_inbound_at`, at once): the 24-hour window."""
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    rows = session.execute(
        select(InboundMessage.from_number, func.max(InboundMessage.received_at))
        .where(InboundMessage.from_number.in_(wanted))
        .group_by(InboundMessage.from_number)
    )
    return {number: at for number, at in rows}


# --- the batch sender ----------------------------------------------------------------------------


def claim_fresh(session: Session, limit: int) -> list[OutboundMessage]:
    """The oldest PENDING rows no attempt has touched (attempts 0), locked for this transaction
    and skipped if another sender has them. Rows an attempt has touched (a 429 put back, a
    dashboard retry's reset has attempts 0 and is fresh again) belong to the one-row send job and
    the sweeps, whose job ids keep them to one attempt at a time."""
    return list(
        session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.status == OutboundStatus.PENDING, OutboundMessage.attempts == 0)
            .order_by(OutboundMessage.created_at, OutboundMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def fresh_among(session: Session, outbound_ids: Sequence[int]) -> set[int]:
    """Which of these rows are fresh (PENDING, never attempted): the drain's to send."""
    if not outbound_ids:
        return set()
    return set(
        session.scalars(
            select(OutboundMessage.id).where(
                OutboundMessage.id.in_(list(outbound_ids)),
                OutboundMessage.status == OutboundStatus.PENDING,
                OutboundMessage.attempts == 0,
            )
        )
    )


def hold_sends(session: Session, outbound_ids: Sequence[int]) -> None:
    """Session-level advisory locks on these rows, taken in the claim's transaction so they are
    held from the claim's commit to `release_sends` (or the connection's end)."""
    if outbound_ids:
        session.execute(
            text("SELECT pg_advisory_lock(:space, (id % 2147483647)::int) FROM unnest(CAST(:ids AS bigint[])) AS id"),
            {"space": SEND_LOCK_SPACE, "ids": list(outbound_ids)},
        )


def release_sends(session: Session) -> None:
    session.execute(text("SELECT pg_advisory_unlock_all()"))


def send_in_flight(session: Session, outbound_id: int) -> bool:
    """Is a batch sender holding this row right now (claimed, its provider call not recorded)?
    Asked by the one-row sender before it takes a SENDING row for an attempt that died."""
    free = session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:space, (CAST(:id AS bigint) % 2147483647)::int)"),
        {"space": SEND_LOCK_SPACE, "id": outbound_id},
    )
    return not free


def mark_sending_many(session: Session, rows: Sequence[OutboundMessage]) -> None:
    """The claim of a batch, committed before any provider call (as `messaging.mark_sending`)."""
    if rows:
        session.execute(
            _OUTBOUND.update()
            .where(_OUTBOUND.c.id.in_([row.id for row in rows]))
            .values(
                status=OutboundStatus.SENDING,
                attempts=_OUTBOUND.c.attempts + 1,
                status_changed_at=func.now(),
                content_sid=None,
            )
        )


_RANK = "CASE {col}::text " + " ".join(f"WHEN '{s.value}' THEN {r}" for s, r in STATUS_RANK.items()) + " ELSE 0 END"
# One UPDATE for a batch: the provider's id always (unless another id is there already: that row
# was adopted and is the lookup's to settle), sent_at once, the status only forward.
_RECORD = text(
    f"""
    UPDATE outbound_messages o SET
        provider_sid = v.sid,
        sent_at = coalesce(o.sent_at, now()),
        error_message = CASE WHEN o.sent_at IS NULL THEN NULL ELSE o.error_message END,
        status = CASE WHEN {_RANK.format(col="o.status")} < {_RANK.format(col="v.status")}
                      THEN v.status::outbound_status ELSE o.status END,
        status_changed_at = CASE WHEN {_RANK.format(col="o.status")} < {_RANK.format(col="v.status")}
                                 THEN now() ELSE o.status_changed_at END
    FROM unnest(CAST(:ids AS bigint[]), CAST(:sids AS text[]), CAST(:statuses AS text[])) AS v(id, sid, status)
    WHERE o.id = v.id AND (o.provider_sid IS NULL OR o.provider_sid = v.sid)
    """
)


def record_sent(session: Session, accepted: Sequence[tuple[int, str, OutboundStatus]]) -> None:
    """(row id, provider id, status) of each message the provider accepted, in one statement."""
    if accepted:
        session.execute(
            _RECORD,
            {
                "ids": [a[0] for a in accepted],
                "sids": [a[1] for a in accepted],
                "statuses": [a[2].value for a in accepted],
            },
        )
