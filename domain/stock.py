"""Stock reservation. Available = stock - reserved_stock; PostgreSQL's CHECK
`0 <= reserved_stock <= stock` is the last word, the conditional UPDATE the first.

Quantities are in the product's own unit (order lines are converted before they become items).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from db.models import Order

# All of an order's lines with one wholesaler, or none, in one statement: lock the wholesaler's live
# rows for the order's products (a concurrent change is waited for and re-read), then reserve and
# record every line only if every line fits. The conditional UPDATE repeats the check and
# PostgreSQL's CHECK stays the last word.
_RESERVE = text(
    """
    WITH locked AS MATERIALIZED (
        SELECT wp.id, wp.product_id, wp.stock - wp.reserved_stock AS free
        FROM wholesaler_products wp
        WHERE wp.wholesaler_id = :w AND wp.deleted_at IS NULL AND wp.is_available
          AND wp.product_id IN (SELECT product_id FROM order_items WHERE order_id = :o)
        ORDER BY wp.id  -- one lock order for every decision: two orders' reservations cannot deadlock
        FOR UPDATE
    ),
    line AS MATERIALIZED (
        SELECT i.id AS item_id, i.quantity, l.id AS wp_id, l.free
        FROM order_items i LEFT JOIN locked l ON l.product_id = i.product_id
        WHERE i.order_id = :o
    ),
    fits AS (SELECT bool_and(wp_id IS NOT NULL AND free >= quantity) AS every FROM line),
    taken AS (
        UPDATE wholesaler_products wp SET reserved_stock = wp.reserved_stock + line.quantity, updated_at = now()
        FROM line, fits
        WHERE fits.every AND wp.id = line.wp_id AND wp.stock - wp.reserved_stock >= line.quantity
        RETURNING wp.id
    ),
    booked AS (
        INSERT INTO stock_reservations (wholesaler_product_id, order_id, order_item_id, quantity, expires_at)
        SELECT line.wp_id, :o, line.item_id, line.quantity, :e FROM line JOIN taken ON taken.id = line.wp_id
        RETURNING id
    )
    SELECT (SELECT count(*) FROM line) AS lines, (SELECT count(*) FROM booked) AS booked
    """
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
    """Reserve every line of `order` with one wholesaler, or nothing at all (one statement: a line
    that is short leaves the others untouched). Returns whether it succeeded."""
    row = session.execute(_RESERVE, {"o": order.id, "w": wholesaler_id, "e": expires_at}).one()
    if row.booked == row.lines:
        return True
    if row.booked:
        # Cannot happen behind the row locks; were it to, the caller's transaction must not commit.
        raise RuntimeError(f"order {order.id}: reserved {row.booked} of {row.lines} lines with {wholesaler_id}")
    return False


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
