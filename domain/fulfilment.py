"""Fulfilment: from the winner's ACCEPT to the shop's door, or a cancellation on the way.

`confirm_winner` makes the order CONFIRMED and books the khata's DEBIT; `mark_dispatched` and
`mark_delivered` move it on (delivery uses up the reserved stock); `cancel_order` gives back what
may still be given back (stock, the credit hold, a posted DEBIT answered by a CREDIT). Who is told
about a dispatch, a delivery or a cancellation depends on who acted, so the use cases tell them
(usecases/orders.py); the confirmation is told here, with the DEBIT it announces.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    ActorType,
    LedgerEntry,
    Order,
    OrderStatus,
)
from domain.credit import release_hold
from domain.events import Notice, notify
from domain.ledger import post_debit, reverse_entry
from domain.money import npr
from domain.orders import HOLDING_STATUSES, lock_awaiting_winner, lock_order, transition
from domain.selection import DecisionRules
from domain.stock import consume_reservations, release_reservations, set_reservation_expiry

# --- the winner's yes -----------------------------------------------------------------------------


def confirm_winner(session: Session, wholesaler_id: int, ref: str, settings: DecisionRules) -> Order:
    """`ACCEPT TK-7F3K` from the winner: the order is CONFIRMED and the khata gets its DEBIT."""
    order = lock_awaiting_winner(session, wholesaler_id, ref)
    transition(
        session,
        order,
        OrderStatus.CONFIRMED,
        actor_type=ActorType.WHOLESALER,
        actor_id=wholesaler_id,
        reason="winner accepted",
    )
    assert order.final_total is not None
    post_debit(
        session,
        retailer_id=order.retailer_id,
        amount=order.final_total,
        idempotency_key=f"order:{order.id}:debit",
        description=f"Order {order.ref}",
        order_id=order.id,
        wholesaler_id=wholesaler_id,
        release_held=order.estimated_total or Decimal(0),
    )
    set_reservation_expiry(session, order.id, None)  # a confirmed order keeps its goods until delivery
    notify(
        session,
        Notice(
            "order_confirmed",
            "retailer",
            order.retailer_id,
            f"confirmed:{order.id}",
            order.id,
            {"ref": order.ref, "total": npr(order.final_total)},
        ),
    )
    return order


# --- on the way, delivered, or cancelled ----------------------------------------------------------


def mark_dispatched(session: Session, order: Order, *, actor_type: ActorType, actor_id: int | None) -> None:
    """The goods left. Who is told is the use case's (usecases.orders.mark_dispatched)."""
    transition(session, order, OrderStatus.DISPATCHED, actor_type=actor_type, actor_id=actor_id, reason="dispatched")


def mark_delivered(session: Session, order: Order, *, actor_type: ActorType, actor_id: int | None) -> None:
    """The goods arrived: the reserved stock is used up. Who is told is the use case's."""
    transition(session, order, OrderStatus.DELIVERED, actor_type=actor_type, actor_id=actor_id, reason="delivered")
    consume_reservations(session, order.id)


def cancel_order(session: Session, order_id: int, *, actor_type: ActorType, actor_id: int | None, reason: str) -> Order:
    """Cancel what may still be cancelled: stock goes back, a credit hold is released, a posted
    DEBIT is answered by a CREDIT entry (never an edit). Who is told depends on who cancelled, so
    the use case tells them (usecases.orders.cancel_order)."""
    order = lock_order(session, order_id)
    was = order.status
    transition(session, order, OrderStatus.CANCELLED, actor_type=actor_type, actor_id=actor_id, reason=reason)
    release_reservations(session, order.id)
    if was in HOLDING_STATUSES and order.estimated_total:
        release_hold(session, order.retailer_id, order.estimated_total, order.id)
    elif was is OrderStatus.CONFIRMED:
        debit = session.scalars(
            select(LedgerEntry).where(LedgerEntry.idempotency_key == f"order:{order.id}:debit")
        ).first()
        if debit is not None:
            reverse_entry(session, debit.id, f"Order {order.ref} cancelled: {reason}", f"order:{order.id}:cancel")
    return order
