"""The order state machine: one transition table, one function that moves an order.

Every move is checked against TRANSITIONS, stamped, and written to `audit_logs` (who and why) in the
caller's transaction; an illegal move raises IllegalTransition and changes nothing.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, exists, insert, select, text
from sqlalchemy.orm import Session

from db.models import ActorType, AuditLog, Order, OrderStatus
from domain.errors import DomainError, InvalidInput, NotFound

S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_OFFERS: frozenset({S.WHOLESALER_SELECTED, S.CANCELLED, S.EXPIRED, S.REJECTED}),
    # Back to PENDING_OFFERS when the winner passes or lets the accept window run out: the next
    # offer then wins by the same rules.
    S.WHOLESALER_SELECTED: frozenset({S.CONFIRMED, S.PENDING_OFFERS, S.CANCELLED, S.EXPIRED, S.REJECTED}),
    S.CONFIRMED: frozenset({S.DISPATCHED, S.CANCELLED}),
    S.DISPATCHED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REJECTED: frozenset(),
}
OPEN_STATUSES = frozenset({S.PENDING_OFFERS, S.WHOLESALER_SELECTED, S.CONFIRMED, S.DISPATCHED})
# Before CONFIRMED the retailer's credit is only held; from CONFIRMED on it is a ledger DEBIT.
HOLDING_STATUSES = frozenset({S.PENDING_OFFERS, S.WHOLESALER_SELECTED})
_STAMPS = {
    S.CONFIRMED: "confirmed_at",
    S.DISPATCHED: "dispatched_at",
    S.DELIVERED: "delivered_at",
    S.CANCELLED: "cancelled_at",
}
# Unambiguous on a phone screen and when read aloud: no 0/O, 1/I/L.
REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class IllegalTransition(DomainError):
    """A move the table does not allow. It names what was tried (`to_status`) and where the order
    stands (`from_status`), so the reply can say what to do instead: a DISPATCHED before ACCEPT is
    told to accept first, not that the order "cannot be cancelled"."""

    code = "illegal_transition"

    def __init__(self, order: Order, to: OrderStatus):
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[order.status])) or "none (final)"
        super().__init__(f"order {order.ref} is {order.status.value}; it cannot become {to.value} (allowed: {allowed})")
        self.ref = self.order_ref = order.ref
        self.from_status = order.status
        self.to_status = to


def can_transition(current: OrderStatus, to: OrderStatus) -> bool:
    return to in TRANSITIONS[current]


_AUDIT_TRANSITION = insert(cast(Table, AuditLog.__table__)).values(
    retailer_id=bindparam("retailer_id"),
    order_id=bindparam("order_id"),
    actor_type=bindparam("actor_type"),
    actor_id=bindparam("actor_id"),
    action="order.transition",
    from_status=bindparam("from_status"),
    to_status=bindparam("to_status"),
    reason=bindparam("reason"),
    details=bindparam("details"),
)


def transition(
    session: Session,
    order: Order,
    to: OrderStatus,
    *,
    actor_type: ActorType,
    actor_id: int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Move `order` to `to`: the only place an order's status changes."""
    if not can_transition(order.status, to):
        raise IllegalTransition(order, to)
    before = order.status
    order.status = to
    order.status_reason = reason
    stamp = _STAMPS.get(to)
    if stamp:
        setattr(order, stamp, datetime.now(UTC))
    session.flush()
    # The audit row is written, never read back in this session: a plain INSERT, no ORM object.
    session.execute(
        _AUDIT_TRANSITION,
        {
            "retailer_id": order.retailer_id,
            "order_id": order.id,
            "actor_type": actor_type,
            "actor_id": actor_id,
            "from_status": before.value,
            "to_status": to.value,
            "reason": reason,
            "details": details,
        },
    )


def new_order_ref(session: Session, length: int = 4) -> str:
    """A short ref like TK-7F3K. 31^4 ≈ 920k; on a collision try again, growing after a few."""
    for attempt in range(12):
        size = length + attempt // 4
        ref = "TK-" + "".join(secrets.choice(REF_ALPHABET) for _ in range(size))
        if not session.scalar(select(exists().where(Order.ref == ref)).execution_options(include_deleted=True)):
            return ref
    raise DomainError("could not find a free order reference; try again", code="try_again")


_LOCK_ORDER = (
    select(Order).where(Order.id == bindparam("order_id")).with_for_update().execution_options(populate_existing=True)
)


def lock_order(session: Session, order_id: int) -> Order:
    """The order row, locked for this transaction: every decision on an order starts here."""
    order = session.scalars(_LOCK_ORDER, {"order_id": order_id}).first()
    if order is None:
        raise NotFound(f"no order with id {order_id}", code="order_not_found", ref=f"#{order_id}")
    return order


def lock_awaiting_winner(session: Session, wholesaler_id: int, ref: str) -> Order:
    """The order `ref`, locked, if it waits for this wholesaler's answer as the chosen winner
    (ACCEPT or PASS); refused otherwise, naming its state."""
    order = lock_order(session, find_order(session, ref).id)
    if order.status is not OrderStatus.WHOLESALER_SELECTED or order.final_wholesaler_id != wholesaler_id:
        raise InvalidInput(
            f"{order.ref} is not waiting for your acceptance ({order.status.value})",
            code="order_not_waiting",
            ref=order.ref,
            state=order.status,
        )
    return order


def find_order(session: Session, ref: str) -> Order:
    order = session.scalars(select(Order).where(Order.ref == ref.strip().upper())).first()
    if order is None:
        raise NotFound(f"no order {ref.strip().upper()}", code="order_not_found", ref=ref.strip().upper())
    return order


def open_orders(session: Session, retailer_id: int, limit: int = 5) -> list[Order]:
    return list(
        session.scalars(
            select(Order)
            .where(Order.retailer_id == retailer_id, Order.status.in_(OPEN_STATUSES))
            .order_by(Order.created_at.desc())
            .limit(limit)
        )
    )


def retailer_order(session: Session, retailer_id: int, ref: str | None) -> Order | None:
    """The order a retailer means: by ref (theirs only), else their latest open one."""
    which = Order.ref == ref.strip().upper() if ref else Order.status.in_(OPEN_STATUSES)
    query = select(Order).where(Order.retailer_id == retailer_id, which)
    return session.scalars(query.order_by(Order.created_at.desc()).limit(1)).first()


def wholesaler_order(session: Session, wholesaler_id: int, ref: str) -> Order:
    """An order this wholesaler won (dispatch, delivery)."""
    order = session.scalars(
        select(Order).where(Order.ref == ref.strip().upper(), Order.final_wholesaler_id == wholesaler_id)
    ).first()
    if order is None:
        # Told as "no order": someone else's order is not confirmed to exist.
        raise NotFound(
            f"{ref.strip().upper()} is not one of your orders", code="order_not_found", ref=ref.strip().upper()
        )
    return order


class DecidedOrder(NamedTuple):
    """What the offer process's figures and a job's log line need of an order just decided, in
    one light read: the ORM order the decision locked has left the session's weak identity map
    once the decision returned, so a `session.get` would load the whole row again."""

    id: int
    ref: str
    created_at: datetime
    decided_at: datetime | None


# Built once: a statement made per call is keyed for SQLAlchemy's compiled cache on every call.
_DECIDED_ORDER = text("SELECT id, ref, created_at, decided_at FROM orders WHERE id = :order_id")
_REFS = text("SELECT id, ref FROM orders WHERE id = ANY(CAST(:ids AS bigint[]))")


def decided_order(session: Session, order_id: int) -> DecidedOrder | None:
    session.flush()  # what the decision left in the session, first
    row = session.execute(_DECIDED_ORDER, {"order_id": order_id}).first()
    return None if row is None else DecidedOrder(*row)


def order_refs(session: Session, order_ids: set[int]) -> dict[int, str]:
    """Each order's ref, by id, in one read."""
    return dict(session.execute(_REFS, {"ids": list(order_ids)}).all())
