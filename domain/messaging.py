"""The message log and the outbox: what came in, what goes out, and the rules between them.

- An inbound message is stored once per provider id (`message_sid` is unique); a redelivery is a no-op.
- Replies are written to `outbound_messages` with an idempotency key derived from what caused them
  (`reply:{inbound_id}:{n}`), so a re-run job writes no second reply.
- Free-form text reaches a number only within 24 hours of its last message (WhatsApp's session
  window); outside it a message needs an approved template.
- Provider status callbacks arrive late and out of order: a status only ever moves forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, case, func, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from db.models import InboundMessage, InboundStatus, OutboundMessage, OutboundStatus, Retailer, Wholesaler
from db.session import autocommit_scalar
from domain.identities import party_by_identity
from domain.parties import PartyKind

# The outbox splits a long text into parts no channel refuses: the smallest of the channels'
# max_body_chars (Twilio's 1,600; tests/test_meta_whatsapp.py checks it against every channel).
MAX_BODY_CHARS = 1600
SESSION_WINDOW = timedelta(hours=24)
# Where a queued message keeps its tappable choices ([[id, title], ...]) among its content variables:
# the channel turns them into buttons or a list, the simulator and the dashboard show them.
CHOICES_KEY = "choices"
# Outbound messages that will not arrive unless an admin retries them (the dashboard's failed list).
FAILED_OUTBOUND = (OutboundStatus.FAILED, OutboundStatus.UNDELIVERED)

# How far along a message is. A callback may only raise the rank: "sent" arriving after "delivered"
# is ignored. Failure ranks with delivery: once a provider has given a final answer it stays.
STATUS_RANK: dict[OutboundStatus, int] = {
    OutboundStatus.PENDING: 0,
    OutboundStatus.SENDING: 1,
    OutboundStatus.QUEUED: 2,
    OutboundStatus.SENT: 3,
    OutboundStatus.DELIVERED: 4,
    OutboundStatus.UNDELIVERED: 4,
    OutboundStatus.FAILED: 4,
    OutboundStatus.READ: 5,
}


@dataclass(frozen=True)
class IncomingMessage:
    """One provider delivery, already checked for shape and signature."""

    message_sid: str
    from_number: str  # E.164 as the provider gave it (the channel prefix stripped)
    body: str
    to_number: str | None = None
    wa_id: str | None = None
    profile_name: str | None = None
    media_urls: list[str] = field(default_factory=list)
    button_payload: str | None = None
    button_text: str | None = None


_INBOUND = cast(Table, InboundMessage.__table__)
# The message's own fields are the row's columns; num_media is derived from its URLs.
_MESSAGE_FIELDS = tuple(f.name for f in fields(IncomingMessage))
_INBOUND_FIELDS = (*_MESSAGE_FIELDS, "num_media")
# Built once with bind parameters (Core, not ORM): this is the webhook's hot path, and building the
# statement from values on every request cost more than the INSERT's round trip.
_STORE_INBOUND = (
    insert(_INBOUND)
    .values({**{name: bindparam(name) for name in _INBOUND_FIELDS}, "status": InboundStatus.QUEUED})
    .on_conflict_do_nothing(index_elements=["message_sid"])
    .returning(_INBOUND.c.id)
)


def store_inbound(session: Session | Connection, message: IncomingMessage) -> int | None:
    """Insert the message; return its id, or None when this `message_sid` was stored before
    (a retry, a replay, or a concurrent duplicate: the unique index decides, not a prior SELECT).

    The row is born QUEUED because the caller enqueues it right after the commit; only if that
    fails does it go back to PENDING (`mark_inbound_pending`). This saves the webhook a second
    transaction per message. Should the process die between commit and enqueue, the sweep finds
    the QUEUED row without a job and enqueues it."""
    params = {name: getattr(message, name) for name in _MESSAGE_FIELDS}
    params["num_media"] = len(message.media_urls)
    if isinstance(session, Connection):  # the webhooks' autocommit connection: its driver directly
        return autocommit_scalar(session, _STORE_INBOUND, params)
    return session.execute(_STORE_INBOUND, params).scalar_one_or_none()


def unfinished_inbound_id(session: Session | Connection, message_sid: str) -> int | None:
    """The stored message with this provider id, if it is still to be processed (PENDING or
    QUEUED): a redelivery of it may be the only sign that its webhook died before enqueueing."""
    return session.execute(
        select(_INBOUND.c.id).where(
            _INBOUND.c.message_sid == message_sid,
            _INBOUND.c.status.in_([InboundStatus.PENDING, InboundStatus.QUEUED]),
        )
    ).scalar_one_or_none()


def mark_inbound_pending(session: Session, inbound_id: int) -> None:
    """Redis refused the job: PENDING tells the sweep to enqueue it once Redis is back."""
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == inbound_id, InboundMessage.status == InboundStatus.QUEUED)
        .values(status=InboundStatus.PENDING)
    )


def mark_inbound_queued(session: Session, inbound_id: int) -> None:
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == inbound_id, InboundMessage.status == InboundStatus.PENDING)
        .values(status=InboundStatus.QUEUED)
    )


# The inbound job's statements, built once (SQLAlchemy memoises a statement object's cache key;
# one built per call is keyed again every message).
_CLAIM_INBOUND = (
    select(
        _INBOUND.c.id,
        _INBOUND.c.message_sid,
        _INBOUND.c.from_number,
        _INBOUND.c.body,
        _INBOUND.c.num_media,
        _INBOUND.c.button_payload,
    )
    .where(
        _INBOUND.c.id == bindparam("inbound_id"),
        _INBOUND.c.status.in_([InboundStatus.PENDING, InboundStatus.QUEUED]),
    )
    .with_for_update(skip_locked=True)
)
_FINISH_INBOUND = (
    update(_INBOUND)
    .where(_INBOUND.c.id == bindparam("inbound_id"))
    .values(
        status=InboundStatus.PROCESSED,
        processed_at=bindparam("processed_at", type_=_INBOUND.c.processed_at.type),
        intent=bindparam("intent", type_=_INBOUND.c.intent.type),
        # Only the sender's own kind of party is recorded; the other column keeps what it had.
        retailer_id=func.coalesce(bindparam("retailer_id", type_=_INBOUND.c.retailer_id.type), _INBOUND.c.retailer_id),
        wholesaler_id=func.coalesce(
            bindparam("wholesaler_id", type_=_INBOUND.c.wholesaler_id.type), _INBOUND.c.wholesaler_id
        ),
    )
)
# The live, active retailer and wholesaler on a number, in one statement (a wholesaler's ACCEPT was
# two: the retailer's miss, then the wholesaler): the number as a one-row table, each party LEFT
# JOINed on its own index (the soft-delete criteria go into each ON clause).
_NUMBER = select(bindparam("number", type_=String).label("number")).subquery("sender")
_PARTIES_ON_NUMBER = (
    select(Retailer, Wholesaler)
    .select_from(_NUMBER)
    .outerjoin(Retailer, (Retailer.whatsapp_number == _NUMBER.c.number) & Retailer.is_active.is_(True))
    .outerjoin(Wholesaler, (Wholesaler.whatsapp_number == _NUMBER.c.number) & Wholesaler.is_active.is_(True))
    .limit(1)
)
# ... and whether they chose their language themselves, asked only when a party on the number has
# a saved language (CASE runs the EXISTS only then, as the inbound job asked it before).
_SENDER_ON_NUMBER = _PARTIES_ON_NUMBER.add_columns(
    case(
        (
            func.coalesce(Retailer.language, Wholesaler.language).is_not(None),
            select(InboundMessage.id)
            .where(InboundMessage.from_number == _NUMBER.c.number, InboundMessage.intent == "language")
            .exists(),
        ),
        else_=False,
    ).label("chose_language")
)
_CHOSE_LANGUAGE = (
    select(InboundMessage.id)
    .where(InboundMessage.from_number == bindparam("number"), InboundMessage.intent == "language")
    .limit(1)
)


@dataclass(frozen=True, slots=True)
class ClaimedInbound:
    """What the inbound job reads of the message it locked (plain values: no ORM row to build and
    flush for one UPDATE)."""

    id: int
    message_sid: str
    from_number: str
    body: str
    num_media: int
    button_payload: str | None


def claim_inbound(session: Session, inbound_id: int) -> ClaimedInbound | None:
    """Lock an unfinished message for processing; None if done or another worker holds it."""
    # Core statements go to the session's connection (same transaction), past the ORM's execute:
    # nothing to autoflush or load for them there, only its per-statement cost.
    row = session.connection().execute(_CLAIM_INBOUND, {"inbound_id": inbound_id}).first()
    return None if row is None else ClaimedInbound(*row)


def finish_inbound(
    session: Session,
    message: ClaimedInbound,
    party: Retailer | Wholesaler | None,
    intent: str | None,
) -> None:
    """PROCESSED, in the transaction that wrote the replies: the row stays locked until then."""
    session.connection().execute(
        _FINISH_INBOUND,
        {
            "inbound_id": message.id,
            "processed_at": datetime.now(UTC),
            "intent": intent,
            "retailer_id": party.id if isinstance(party, Retailer) else None,
            "wholesaler_id": party.id if isinstance(party, Wholesaler) else None,
        },
    )


def chose_language(session: Session, number: str) -> bool:
    """Did this person set their language themselves (`nepali` / `english`)? Then the party's saved
    language is their choice; otherwise it is only what an admin, an import or the seed put there."""
    return bool(session.scalar(_CHOSE_LANGUAGE, {"number": number}))


def latest_inbound_text(session: Session, number: str) -> str | None:
    return session.scalar(
        select(InboundMessage.body)
        .where(InboundMessage.from_number == number)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(1)
    )


def find_party(session: Session, e164: str) -> Retailer | Wholesaler | None:
    """The live, active retailer (first) or wholesaler on this number; else the party the sender's
    provider id is linked to (a username user's BSUID, or a wa_id an admin linked; issue 18)."""
    found = session.execute(_PARTIES_ON_NUMBER, {"number": e164}).first()
    if found is not None and found[0] is not None:
        return cast(Retailer, found[0])
    if found is not None and found[1] is not None:
        return cast(Wholesaler, found[1])
    return party_by_identity(session, e164)


def find_sender(session: Session, e164: str) -> tuple[Retailer | Wholesaler | None, bool]:
    """`find_party` and `chose_language` in one statement (for the inbound job: the party on this
    number, and whether the person set their language themselves). A party found only through a
    linked identity (issue 18) costs its own lookups, as in `find_party`."""
    found = session.execute(_SENDER_ON_NUMBER, {"number": e164}).first()
    if found is not None and found[0] is not None:
        return cast(Retailer, found[0]), bool(found[2])
    if found is not None and found[1] is not None:
        return cast(Wholesaler, found[1]), bool(found[2])
    party = party_by_identity(session, e164)
    return party, party is not None and party.language is not None and chose_language(session, e164)


# --- the outbox ----------------------------------------------------------------------------------


def split_body(body: str, limit: int = MAX_BODY_CHARS) -> list[str]:
    """Cut a long text into parts of at most `limit` characters, on line boundaries where possible
    (an order list stays readable), then on spaces, and only as a last resort mid-word."""
    if len(body) <= limit:
        return [body]
    parts: list[str] = []
    current = ""
    for line in body.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit + 1)
            cut = cut if cut > 0 else limit
            parts.append(line[:cut])
            line = line[cut:].lstrip(" ")
        current = line
    if current:
        parts.append(current)
    return parts


def queue_message(
    session: Session,
    *,
    to: str,
    body: str,
    idempotency_key: str,
    kind: str = "reply",
    in_reply_to_id: int | None = None,
    order_id: int | None = None,
    retailer_id: int | None = None,
    wholesaler_id: int | None = None,
    content_variables: dict[str, str] | None = None,
    media_url: str | None = None,
    choices: Sequence[Any] = (),
) -> list[int]:
    """Put a message in the outbox (split if long); return the ids of the rows this call created.
    The same key again creates nothing, so a re-run job cannot send a message twice. A document
    (`media_url`) goes with the first part."""
    parts = split_body(body)
    ids: list[int] = []
    for index, part in enumerate(parts):
        key = idempotency_key if index == 0 else f"{idempotency_key}#{index + 1}"
        variables: dict[str, Any] = dict(content_variables or {})
        if choices and index == len(parts) - 1:  # the buttons go with the part that asks
            variables[CHOICES_KEY] = [[c.id, c.title] for c in choices]
        stmt = (
            insert(OutboundMessage)
            .values(
                to_number=to,
                body=part,
                kind=kind,
                idempotency_key=key,
                in_reply_to_id=in_reply_to_id,
                order_id=order_id,
                retailer_id=retailer_id,
                wholesaler_id=wholesaler_id,
                content_variables=variables or None,
                media_url=media_url if index == 0 else None,
            )
            .on_conflict_do_nothing(index_elements=[OutboundMessage.idempotency_key])
            .returning(OutboundMessage.id)
        )
        new_id = session.execute(stmt).scalar_one_or_none()
        if new_id is not None:
            ids.append(new_id)
    return ids


def last_inbound_at(session: Session, number: str) -> datetime | None:
    """When this number last wrote to us (index ix_inbound_messages_from_number_received_at)."""
    return session.scalar(select(func.max(InboundMessage.received_at)).where(InboundMessage.from_number == number))


def within_session_window(session: Session, number: str, now: datetime | None = None) -> bool:
    last = last_inbound_at(session, number)
    return last is not None and (now or datetime.now(UTC)) - last < SESSION_WINDOW


@dataclass(frozen=True)
class Delivery:
    """How a message goes out: free text, or an approved template when the window is closed."""

    body: str
    content_sid: str | None = None
    content_variables: dict[str, Any] | None = None


class OutsideSessionWindow(Exception):
    """Free-form text cannot be delivered and no template is configured for this kind."""


def choose_delivery(
    message: OutboundMessage, window_open: bool, template_sid: str | None, template_setting: str = "TWILIO_TEMPLATE"
) -> Delivery:
    """`template_setting`: where the channel in use takes its templates (TWILIO_TEMPLATE, META_TEMPLATE),
    so a refusal names the setting that would have let the message go."""
    if window_open:
        return Delivery(body=message.body)
    if template_sid is None:
        raise OutsideSessionWindow(
            f"outside the 24-hour window and no template configured for kind {message.kind!r} "
            f"(set {template_setting}_{message.kind.upper()})"
        )
    # A template has its own buttons, if any: the choices stay out of its variables.
    variables = {k: v for k, v in (message.content_variables or {}).items() if k != CHOICES_KEY}
    return Delivery(body=message.body, content_sid=template_sid, content_variables=variables)


def choices_of(message: OutboundMessage) -> list[tuple[str, str]]:
    """(id, title) of the buttons or list rows a queued message offers; [] for plain text."""
    found = (message.content_variables or {}).get(CHOICES_KEY) or []
    return [(str(c[0]), str(c[1])) for c in found if isinstance(c, list) and len(c) == 2]


def claim_outbound(session: Session, outbound_id: int) -> OutboundMessage | None:
    """Lock a row that still needs sending (PENDING, or SENDING left by an attempt that died)."""
    return session.scalars(
        select(OutboundMessage)
        .where(
            OutboundMessage.id == outbound_id,
            OutboundMessage.status.in_([OutboundStatus.PENDING, OutboundStatus.SENDING]),
        )
        .with_for_update(skip_locked=True)
    ).first()


def mark_sending(session: Session, row: OutboundMessage, delivery: Delivery) -> None:
    """The claim, committed before the provider is called (see workers.outbound on the crash window)."""
    row.status = OutboundStatus.SENDING
    row.attempts += 1
    row.status_changed_at = datetime.now(UTC)
    row.content_sid = delivery.content_sid


def fail_outbound(session: Session, row: OutboundMessage, code: str | None, reason: str) -> None:
    row.status = OutboundStatus.FAILED
    row.error_code = (code or "")[:20] or None
    row.error_message = reason
    row.status_changed_at = datetime.now(UTC)


def fail_outbound_by_id(session: Session, outbound_id: int, code: str | None, reason: str) -> None:
    session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.id == outbound_id,
            OutboundMessage.status.in_([OutboundStatus.PENDING, OutboundStatus.SENDING]),
        )
        .values(
            status=OutboundStatus.FAILED,
            error_code=(code or "")[:20] or None,
            error_message=reason,
            status_changed_at=func.now(),
        )
    )


def note_transient_failure(session: Session, outbound_id: int, reason: str, *, surely_unsent: bool) -> None:
    """Keep the reason; a clear "not accepted" (429) goes back to PENDING, an ambiguous one stays
    SENDING so the next attempt looks the message up before resending."""
    values: dict[str, Any] = {"error_message": reason}
    if surely_unsent:
        values["status"] = OutboundStatus.PENDING
    session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == outbound_id, OutboundMessage.status == OutboundStatus.SENDING)
        .values(**values)
    )


def record_accepted(session: Session, outbound_id: int, provider_sid: str, status: OutboundStatus) -> None:
    """Store the provider's SID; the status moves only forward (a fast callback may have won)."""
    advance_status(session, status, provider_sid=provider_sid, outbound_id=outbound_id)
    session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == outbound_id, OutboundMessage.sent_at.is_(None))
        .values(sent_at=func.now(), provider_sid=provider_sid, error_message=None)
    )


def recorded_provider_sids(session: Session, sids: list[str]) -> set[str]:
    """Which of these provider ids are already on an outbox row (sent by another row, or adopted)."""
    if not sids:
        return set()
    return set(session.scalars(select(OutboundMessage.provider_sid).where(OutboundMessage.provider_sid.in_(sids))))


def _rank_sql(column: Any) -> Any:
    return case({status.value: rank for status, rank in STATUS_RANK.items()}, value=sql_cast(column, String), else_=0)


def advance_status(
    session: Session,
    new_status: OutboundStatus,
    *,
    provider_sid: str,
    outbound_id: int | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> bool:
    """Apply a provider's status report, only if it moves the row forward. Matches by provider SID,
    or by our own id (the marker in the callback URL) when the SID is not stored yet — the job that
    sent it may have died before recording it. One UPDATE: concurrent callbacks cannot interleave."""
    target = OutboundMessage.provider_sid == provider_sid
    if outbound_id is not None:
        target = target | ((OutboundMessage.id == outbound_id) & (OutboundMessage.provider_sid.is_(None)))
    values: dict[str, Any] = {
        "status": new_status,
        "provider_sid": provider_sid,
        "status_changed_at": func.now(),
    }
    if error_code:
        values["error_code"] = error_code[:20]
        values["error_message"] = error_message
    result = session.execute(
        update(OutboundMessage)
        .where(target, _rank_sql(OutboundMessage.status) < STATUS_RANK[new_status])
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- sweeps --------------------------------------------------------------------------------------


def inbound_ids_to_enqueue(session: Session, older_than: datetime, limit: int = 500) -> list[int]:
    """PENDING rows: stored while Redis was away (or the webhook died before enqueueing)."""
    return list(
        session.scalars(
            select(InboundMessage.id)
            .where(InboundMessage.status == InboundStatus.PENDING, InboundMessage.received_at < older_than)
            .order_by(InboundMessage.received_at)
            .limit(limit)
        )
    )


def stale_queued_inbound_ids(session: Session, older_than: datetime, limit: int = 500) -> list[int]:
    return list(
        session.scalars(
            select(InboundMessage.id)
            .where(InboundMessage.status == InboundStatus.QUEUED, InboundMessage.received_at < older_than)
            .order_by(InboundMessage.received_at)
            .limit(limit)
        )
    )


def mark_inbound_failed(session: Session, inbound_id: int, reason: str) -> None:
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == inbound_id, InboundMessage.status == InboundStatus.QUEUED)
        .values(status=InboundStatus.FAILED, error=reason)
    )


def outbound_ids_to_send(session: Session, pending_before: datetime, sending_before: datetime) -> list[int]:
    """PENDING rows nobody enqueued (Redis was down) and SENDING rows whose job died."""
    return list(
        session.scalars(
            select(OutboundMessage.id)
            .where(
                ((OutboundMessage.status == OutboundStatus.PENDING) & (OutboundMessage.created_at < pending_before))
                | (
                    (OutboundMessage.status == OutboundStatus.SENDING)
                    & (OutboundMessage.status_changed_at < sending_before)
                )
            )
            .order_by(OutboundMessage.id)
            .limit(500)
        )
    )


# --- the simulator's view of a conversation --------------------------------------------------------


def conversation(session: Session, number: str, after_in: int = 0, after_out: int = 0) -> dict[str, list[Any]]:
    inbound = session.scalars(
        select(InboundMessage)
        .where(InboundMessage.from_number == number, InboundMessage.id > after_in)
        .order_by(InboundMessage.id)
        .limit(200)
    ).all()
    outbound = session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.to_number == number, OutboundMessage.id > after_out)
        .order_by(OutboundMessage.id)
        .limit(200)
    ).all()
    return {"inbound": list(inbound), "outbound": list(outbound)}


def known_parties(session: Session, limit: int = 50) -> list[tuple[str, str, str]]:
    """(kind, name, number) of seeded parties, for the simulator's picker."""
    rows: list[tuple[str, str, str]] = [
        (PartyKind.RETAILER, PartyKind.shown_name(r), r.whatsapp_number)
        for r in session.scalars(select(Retailer).order_by(Retailer.id).limit(limit))
    ]
    rows += [
        (PartyKind.WHOLESALER, PartyKind.shown_name(w), w.whatsapp_number)
        for w in session.scalars(select(Wholesaler).order_by(Wholesaler.id).limit(limit))
    ]
    return rows
