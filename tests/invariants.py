"""The order process's invariants, checked on the raw rows after anything happened: `thok check`
(domain/integrity.py: balances, advances, corrections, reservations, winners) and what only an
order's life adds (stock and credit held for live orders only, one winner per decided order)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.integrity import run_checks


def check_invariants(s: Session) -> None:
    problems = run_checks(s)
    assert problems == [], "thok check: " + "; ".join(map(str, problems))
    stock = s.execute(
        text(
            """
            SELECT wp.id FROM wholesaler_products wp
            LEFT JOIN (SELECT wholesaler_product_id, sum(quantity) q FROM stock_reservations
                       WHERE status = 'ACTIVE' GROUP BY 1) r ON r.wholesaler_product_id = wp.id
            WHERE wp.reserved_stock <> coalesce(r.q, 0) OR wp.reserved_stock > wp.stock OR wp.stock < 0
            """
        )
    ).all()
    assert stock == [], "reserved_stock differs from the live reservations"
    winners = s.execute(
        text(
            """
            SELECT o.id FROM orders o
            LEFT JOIN vendor_offers v ON v.order_id = o.id AND v.status = 'WON'
            GROUP BY o.id, o.final_wholesaler_id, o.status
            HAVING count(v.id) > 1
               OR (o.status IN ('WHOLESALER_SELECTED', 'CONFIRMED', 'DISPATCHED', 'DELIVERED')
                   AND (count(v.id) <> 1 OR max(v.wholesaler_id) <> o.final_wholesaler_id))
            """
        )
    ).all()
    assert winners == [], "an order without exactly one winner"
    held_goods = s.execute(
        text(
            """
            SELECT o.id FROM orders o
            LEFT JOIN (SELECT order_id, count(*) n FROM stock_reservations WHERE status = 'ACTIVE' GROUP BY 1) r
                   ON r.order_id = o.id
            LEFT JOIN (SELECT order_id, count(*) n FROM order_items GROUP BY 1) i ON i.order_id = o.id
            WHERE (o.status IN ('WHOLESALER_SELECTED', 'CONFIRMED', 'DISPATCHED') AND coalesce(r.n, 0) <> i.n)
               OR (o.status NOT IN ('WHOLESALER_SELECTED', 'CONFIRMED', 'DISPATCHED') AND coalesce(r.n, 0) > 0)
            """
        )
    ).all()
    assert held_goods == [], "stock reserved for an order that is not live and decided (or missing for one that is)"
    credit = s.execute(
        text(
            """
            SELECT c.retailer_id FROM credit_accounts c
            LEFT JOIN (SELECT retailer_id, sum(estimated_total) h FROM orders
                       WHERE status IN ('PENDING_OFFERS', 'WHOLESALER_SELECTED') GROUP BY 1) o
                   ON o.retailer_id = c.retailer_id
            WHERE c.held <> coalesce(o.h, 0)
            """
        )
    ).all()
    assert credit == [], "credit held differs from the live orders' estimates"
