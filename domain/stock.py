"""Stock reservation. Available = stock - reserved_stock; PostgreSQL's CHECK
`0 <= reserved_stock <= stock` is the last word, the conditional UPDATE the first.

Quantities are in the product's own unit (order lines are converted before they become items).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from db.models import Order, StockReservation

_RESERVE = text(
    "UPDATE wholesaler_products SET reserved_stock = reserved_stock + :q, updated_at = now() "
    "WHERE wholesaler_id = :w AND product_id = :p AND deleted_at IS NULL AND is_available "
    "AND stock - reserved_stock >= :q RETURNING id"
)
# Set-based: close the order's ACTIVE reservations and give their quantities back in one statement.
# (order_id, wholesaler_product_id) is unique among ACTIVE rows, so each product row is hit once.
_CLOSE = """
WITH closed AS (
    UPDATE stock_reservations SET status = :status, closed_at = now()
    WHERE order_id = :o AND status = 'ACTIVE'
    RETURNING wholesaler_product_id, quantity
)
UPDATE wholesaler_products wp SET reserved_stock = wp.reserved_stock - closed.quantity,
    stock = wp.stock - CASE WHEN :consume THEN closed.quantity ELSE 0 END,
    updated_at = now()
FROM closed WHERE wp.id = closed.wholesaler_product_id
"""


def reserve_stock(session: Session, order: Order, wholesaler_id: int, expires_at: datetime | None) -> bool:
    """Reserve every line of `order` with one wholesaler, or nothing at all (a savepoint undoes the
    lines already reserved when one line is short). Returns whether it succeeded."""
    savepoint = session.begin_nested()
    for item in order.items:
        row = session.execute(_RESERVE, {"q": item.quantity, "w": wholesaler_id, "p": item.product_id}).first()
        if row is None:
            savepoint.rollback()
            return False
        session.add(
            StockReservation(
                wholesaler_product_id=row.id,
                order_id=order.id,
                order_item_id=item.id,
                quantity=item.quantity,
                expires_at=expires_at,
            )
        )
    session.flush()
    savepoint.commit()
    return True


def release_reservations(session: Session, order_id: int) -> int:
    """Give the order's reserved stock back (cancelled, expired, winner declined). Idempotent."""
    result = session.execute(text(_CLOSE), {"o": order_id, "status": "RELEASED", "consume": False})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def consume_reservations(session: Session, order_id: int) -> int:
    """Delivery: the reserved goods leave the warehouse (stock -= q, reserved_stock -= q)."""
    result = session.execute(text(_CLOSE), {"o": order_id, "status": "CONSUMED", "consume": True})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def set_reservation_expiry(session: Session, order_id: int, expires_at: datetime | None) -> None:
    session.execute(
        text("UPDATE stock_reservations SET expires_at = :e WHERE order_id = :o AND status = 'ACTIVE'"),
        {"e": expires_at, "o": order_id},
    )
