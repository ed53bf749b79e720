"""What a unit of work asks the outside world to do once it commits.

Domain code stays free of RQ and of message texts: it records *events* (timers to arm) and
*notices* (who must be told what, by message-catalog key) on the session. The worker that owns the
unit of work renders the notices into the outbox in the same transaction, and arms the timers after
commit. Periodic sweeps re-derive every timer from PostgreSQL, so a lost event delays, never loses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class OfferWindowOpened:
    order_id: int
    closes_at: datetime


@dataclass(frozen=True)
class OfferWindowReady:
    """Every invited wholesaler has answered: close now, do not wait for the timer."""

    order_id: int


@dataclass(frozen=True)
class WinnerSelected:
    order_id: int
    offer_id: int
    accept_deadline: datetime


Event = OfferWindowOpened | OfferWindowReady | WinnerSelected


@dataclass(frozen=True)
class Notice:
    """Tell one party something about an order, in their language, through the outbox."""

    key: str  # message catalog key
    to_kind: str  # "retailer" | "wholesaler"
    to_id: int
    dedupe_key: str  # the business event: a re-run job writes no second message
    order_id: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "order_update"  # outbound kind: decides the template used outside the 24-hour window


def record_event(session: Session, event: Event) -> None:
    session.info.setdefault("events", []).append(event)


def notify(session: Session, notice: Notice) -> None:
    session.info.setdefault("notices", []).append(notice)


def take_events(session: Session) -> list[Event]:
    return list(session.info.pop("events", []))


def take_notices(session: Session) -> list[Notice]:
    return list(session.info.pop("notices", []))
