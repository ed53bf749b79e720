"""The admin's view of the chat (the dashboard's Conversations page): every number Thok has talked
with, newest conversation first, and one number's thread as the phone shows it, with each reply's
delivery status and, for a failed one, why.

Read-only; numbers are matched to their party (retailer or wholesaler) by WhatsApp number, so a
number nobody registered still shows (its "register first" replies are part of the story).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from db.models import InboundMessage, OutboundMessage, Retailer, Wholesaler
from domain.messaging import FAILED_OUTBOUND, choices_of
from domain.parties import PartyKind


@dataclass(frozen=True)
class Party:
    kind: str  # a PartyKind, or "unknown"
    id: int | None
    name: str


@dataclass(frozen=True)
class ThreadSummary:
    number: str
    party: Party
    last_at: datetime
    last_body: str
    last_from_party: bool
    failed: int


@dataclass(frozen=True)
class Line:
    """One bubble: what the party wrote (`mine` false from Thok's side) or what Thok sent."""

    from_party: bool
    at: datetime
    body: str
    status: str
    error: str | None = None
    order_id: int | None = None
    choices: tuple[str, ...] = ()
    kind: str = "reply"


def parties_by_number(session: Session, numbers: list[str]) -> dict[str, Party]:
    found: dict[str, Party] = {}
    if not numbers:
        return found
    for r in session.scalars(select(Retailer).where(Retailer.whatsapp_number.in_(numbers))):
        found[r.whatsapp_number] = Party(PartyKind.RETAILER, r.id, PartyKind.shown_name(r))
    for w in session.scalars(select(Wholesaler).where(Wholesaler.whatsapp_number.in_(numbers))):
        found.setdefault(w.whatsapp_number, Party(PartyKind.WHOLESALER, w.id, PartyKind.shown_name(w)))
    return found


def threads(session: Session, limit: int = 100) -> list[ThreadSummary]:
    """Numbers by their latest message, newest first (index-backed per side: from_number /
    to_number with the time)."""
    both = union_all(
        select(
            InboundMessage.from_number.label("number"),
            InboundMessage.received_at.label("at"),
            InboundMessage.body.label("body"),
            literal(True).label("from_party"),
        ),
        select(
            OutboundMessage.to_number.label("number"),
            OutboundMessage.created_at.label("at"),
            OutboundMessage.body.label("body"),
            literal(False).label("from_party"),
        ),
    ).subquery()
    ranked = select(
        both,
        func.row_number().over(partition_by=both.c.number, order_by=both.c.at.desc()).label("n"),
    ).subquery()
    rows = session.execute(
        select(ranked.c.number, ranked.c.at, ranked.c.body, ranked.c.from_party)
        .where(ranked.c.n == 1)
        .order_by(ranked.c.at.desc())
        .limit(limit)
    ).all()
    numbers = [r.number for r in rows]
    failed = dict(
        session.execute(
            select(OutboundMessage.to_number, func.count())
            .where(OutboundMessage.to_number.in_(numbers), OutboundMessage.status.in_(FAILED_OUTBOUND))
            .group_by(OutboundMessage.to_number)
        ).all()
    )
    parties = parties_by_number(session, numbers)
    return [
        ThreadSummary(
            r.number,
            parties.get(r.number, Party("unknown", None, r.number)),
            r.at,
            r.body,
            bool(r.from_party),
            int(failed.get(r.number, 0)),
        )
        for r in rows
    ]


def thread(session: Session, number: str, limit: int = 200) -> list[Line]:
    """The latest `limit` messages of each side with this number, oldest first."""
    inbound = session.scalars(
        select(InboundMessage)
        .where(InboundMessage.from_number == number)
        .order_by(InboundMessage.received_at.desc())
        .limit(limit)
    ).all()
    outbound = session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.to_number == number)
        .order_by(OutboundMessage.created_at.desc())
        .limit(limit)
    ).all()
    lines = [Line(True, m.received_at, m.body, m.status.value) for m in inbound]
    lines += [
        Line(
            False,
            m.created_at,
            m.body,
            m.status.value,
            m.error_message if m.status in FAILED_OUTBOUND else None,
            m.order_id,
            tuple(title for _, title in choices_of(m)),
            m.kind,
        )
        for m in outbound
    ]
    lines.sort(key=lambda line: (line.at, not line.from_party))
    return lines[-limit:]
