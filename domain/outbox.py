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
- `claim_batch` is the drain's claim, mark and hold in one statement, and `record_sent_and_release`
  its record and release in one: the same steps, fewer round trips.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, TextClause, func, select, text
from sqlalchemy.orm import Session

from db.models import OutboundMessage, OutboundStatus
from domain.messaging import CHOICES_KEY, STATUS_RANK, split_body

_OUTBOUND = cast(Table, OutboundMessage.__table__)
# Built once: every row of a transaction's messages in one INSERT, the rows as one JSON document
# (as `_SETTLE` in domain/selection.py). A fixed text with one parameter whatever the number of rows,
# so SQLAlchemy and psycopg each parse it once: a multi-row VALUES had a text per row count and over
# 50 parameters, which psycopg does not cache, so it was parsed again on every job; and arrays cost
# psycopg a Python dump per element. RETURNING the key too: rows a conflict skipped return nothing.
# Content variables None are stored as JSON null, as the JSONB column's own binding stored them.
_QUEUE = text(
    """
    INSERT INTO outbound_messages (to_number, body, kind, idempotency_key, in_reply_to_id, order_id,
                                   retailer_id, wholesaler_id, content_variables, media_url)
    SELECT to_number, body, kind, idempotency_key, in_reply_to_id, order_id, retailer_id, wholesaler_id,
           coalesce(content_variables, 'null'::jsonb), media_url
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(to_number text, body text, kind text,
         idempotency_key text, in_reply_to_id bigint, order_id bigint, retailer_id bigint,
         wholesaler_id bigint, content_variables jsonb, media_url text)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, idempotency_key
    """
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
    return [(int(r[0]), str(r[1])) for r in session.connection().execute(_QUEUE, {"rows": json.dumps(rows)})]


# --- recipients, many at once --------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientFacts:
    """What choosing a party's reply language needs (`handlers.messages.reply_language`)."""

    number: str
    saved_language: str | None  # the party's own setting
    chose_language: bool  # they set it themselves (`messaging.chose_language`)
    latest_text: str | None  # their latest message (`messaging.latest_inbound_text`)


# The parties, removed or not (as `PartyKind.get`), and their language facts: one statement for
# all of a transaction's recipients, built once.
_RECIPIENTS = text(
    """
    SELECT p.kind, p.id, p.whatsapp_number, p.language,
           EXISTS (SELECT 1 FROM inbound_messages i WHERE i.from_number = p.whatsapp_number AND i.intent = 'language'),
           (SELECT i.body FROM inbound_messages i WHERE i.from_number = p.whatsapp_number
            ORDER BY i.received_at DESC, i.id DESC LIMIT 1)
    FROM (SELECT 'retailer' AS kind, id, whatsapp_number, language::text AS language
          FROM retailers WHERE id = ANY(CAST(:retailers AS bigint[]))
          UNION ALL
          SELECT 'wholesaler', id, whatsapp_number, language::text
          FROM wholesalers WHERE id = ANY(CAST(:wholesalers AS bigint[]))) AS p
    """
)


def recipient_facts(
    session: Session, retailer_ids: Iterable[int], wholesaler_ids: Iterable[int]
) -> dict[tuple[str, int], RecipientFacts]:
    """(kind, id) -> the party's number and language facts; a party that does not exist is absent.
    A plain statement: the caller has flushed the session's changes."""
    rows = session.connection().execute(
        _RECIPIENTS, {"retailers": sorted(set(retailer_ids)), "wholesalers": sorted(set(wholesaler_ids))}
    )
    return {(row[0], row[1]): RecipientFacts(row[2], row[3], row[4], row[5]) for row in rows}


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


@dataclass(frozen=True)
class ClaimedRow:
    """A row a batch claimed for sending: what the provider call needs."""

    id: int
    to_number: str
    body: str
    media_url: str | None
    content_variables: dict[str, Any] | None


# The batch's claim in one statement: the oldest fresh rows (`claim_fresh`), locked and skipped if
# another sender has them; those inside the 24-hour window (or all, for a channel without one) moved
# to SENDING (`mark_sending_many`) and held by this connection's advisory locks (`hold_sends`), all
# before the transaction commits and any provider is called. The rows outside the window come back
# unmarked (sending false), for the one-row rules. `:window_s` NULL: no window. The batch size is
# written into the statement, not bound: with `LIMIT $1` the plan psycopg prepares (a generic plan)
# cannot know the limit is small, and it chose a bitmap scan and a sort over every open row, dead
# index entries included (1.0 ms a claim on the orders bench) instead of the index scan in claim
# order that stops at the batch and marks dead entries as it meets them (migration 0014).
_CLAIM_SQL = """
    WITH claimed AS (
        SELECT o.id,
               CAST(:window_s AS double precision) IS NULL OR EXISTS (
                   SELECT 1 FROM inbound_messages i
                   WHERE i.from_number = o.to_number
                     AND i.received_at > now() - make_interval(secs => CAST(:window_s AS double precision))
               ) AS open
        FROM outbound_messages o
        WHERE o.status = 'PENDING' AND o.attempts = 0
        ORDER BY o.created_at, o.id
        LIMIT {limit}
        FOR UPDATE OF o SKIP LOCKED
    ), sending AS (
        UPDATE outbound_messages o
        SET status = 'SENDING', attempts = o.attempts + 1, status_changed_at = now(), content_sid = NULL,
            updated_at = now()
        FROM claimed c
        WHERE o.id = c.id AND c.open
        RETURNING o.id, o.to_number, o.body, o.media_url, o.content_variables, o.created_at
    )
    SELECT s.id, s.to_number, s.body, s.media_url, s.content_variables, s.created_at,
           pg_advisory_lock({space}, (s.id % 2147483647)::int)::text AS held, true AS sending
    FROM sending s
    UNION ALL
    SELECT c.id, NULL, NULL, NULL, NULL, NULL, NULL, false FROM claimed c WHERE NOT c.open
"""


@cache
def claim_statement(limit: int) -> TextClause:
    """The claim for batches of `limit` rows (one statement per size, built once)."""
    return text(_CLAIM_SQL.format(limit=int(limit), space=SEND_LOCK_SPACE))


def choices_of(row: ClaimedRow) -> list[tuple[str, str]]:
    """The buttons a claimed row offers, read as `messaging.choices_of` reads a row's."""
    found = (row.content_variables or {}).get(CHOICES_KEY) or []
    return [(str(c[0]), str(c[1])) for c in found if isinstance(c, list) and len(c) == 2]


def claim_batch(session: Session, limit: int, window: timedelta | None) -> tuple[list[ClaimedRow], list[int]]:
    """Claim, mark and hold a batch in one statement; (the rows to send now, oldest first; the ids
    claimed but outside the 24-hour `window`, left PENDING). The caller commits before sending."""
    window_s = None if window is None else window.total_seconds()
    rows = session.connection().execute(claim_statement(limit), {"window_s": window_s}).all()
    sending = sorted((r for r in rows if r[7]), key=lambda r: (r[5], r[0]))  # the claim's order
    return [ClaimedRow(r[0], r[1], r[2], r[3], r[4]) for r in sending], [r[0] for r in rows if not r[7]]


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


# The usual end of a batch (every send accepted): the record and the release in one statement, still
# before the commit as `record_sent` then `release_sends` are.
_RECORD_AND_RELEASE = text(f"WITH recorded AS ({_RECORD.text} RETURNING o.id) SELECT pg_advisory_unlock_all()")


def record_sent_and_release(session: Session, accepted: Sequence[tuple[int, str, OutboundStatus]]) -> None:
    """`record_sent` and `release_sends` in one round trip."""
    session.connection().execute(
        _RECORD_AND_RELEASE,
        {
            "ids": [a[0] for a in accepted],
            "sids": [a[1] for a in accepted],
            "statuses": [a[2].value for a in accepted],
        },
    )


def record_sent(session: Session, accepted: Sequence[tuple[int, str, OutboundStatus]]) -> None:
    """(row id, provider id, status) of each message the provider accepted, in one statement."""
    if accepted:
        session.connection().execute(
            _RECORD,
            {
                "ids": [a[0] for a in accepted],
                "sids": [a[1] for a in accepted],
                "statuses": [a[2].value for a in accepted],
            },
        )
