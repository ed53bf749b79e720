"""domain.offers.place_order writes with Core statements and hands back the session's own objects.

The order, its items and its invitations come back from their INSERTs as persistent objects that
equal the rows (server defaults included), with nothing pending to flush; the collections are set,
in id order; the `order.created` audit row goes with the invitations' INSERT: three INSERTs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from db.models import ActorType, AuditLog, OfferStatus, Order, OrderItem, OrderStatus, VendorOffer
from domain.offers import OrderLine, place_order
from tests import factories as f
from thok.config import Settings

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


@pytest.fixture
def statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.get_bind()

    def note(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _row(session: Session, table: str, row_id: int) -> dict[str, Any]:
    return dict(session.execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": row_id}).mappings().one())


def test_the_order_its_items_and_offers_are_the_rows_with_nothing_pending(
    session: Session, settings: Settings, statements: list[str]
) -> None:
    rice, dal = f.product(session, "RICE-JEERA"), f.product(session, "DAL-MASOOR")
    ktm, ltp = f.wholesaler(session, "Ktm Traders", "Kathmandu"), f.wholesaler(session, "Lalitpur W", "Lalitpur")
    for w, rice_price, dal_price in ((ktm, 2400, 160), (ltp, 2300, 150)):
        f.price(session, w, rice, rice_price, 20)
        f.price(session, w, dal, dal_price, 100)
    shop = f.retailer(session, "Krishna", "Kathmandu", limit=50_000)
    session.flush()
    statements.clear()

    lines = [OrderLine(rice.id, Decimal("2.5"), "2.5 bora jeera"), OrderLine(dal.id, Decimal(10))]
    order = place_order(session, shop, lines, settings, now=NOW)

    inserts = [s for s in statements if s.startswith(("INSERT", "WITH audit"))]
    assert len(inserts) == 3 and "INSERT INTO audit_logs" in inserts[2]
    assert not session.new and not session.dirty
    objects: list[tuple[Order | OrderItem | VendorOffer, str]] = [
        (order, "orders"),
        *((i, "order_items") for i in order.items),
        *((o, "vendor_offers") for o in order.offers),
    ]
    for obj, table in objects:
        assert obj in session and session.get(type(obj), obj.id) is obj
        assert {k: getattr(obj, k) for k in _row(session, table, obj.id)} == _row(session, table, obj.id)
    statements.clear()
    assert order.status is OrderStatus.PENDING_OFFERS and order.created_at is not None
    assert [(i.product_id, i.quantity, i.unit, i.raw_text) for i in order.items] == [
        (rice.id, Decimal("2.500"), rice.unit, "2.5 bora jeera"),
        (dal.id, Decimal("10.000"), dal.unit, None),
    ]
    assert [i.id for i in order.items] == sorted(i.id for i in order.items)
    assert [(o.wholesaler_id, o.total_price, o.status) for o in order.offers] == [
        (ktm.id, Decimal("7600.00"), OfferStatus.PENDING),
        (ltp.id, Decimal("7250.00"), OfferStatus.PENDING),
    ]
    assert all(isinstance(o, VendorOffer) and o.invited_at is not None for o in order.offers)
    assert all(isinstance(i, OrderItem) for i in order.items) and isinstance(order, Order)
    assert not statements  # nothing above was read back
    audit = session.scalars(select(AuditLog).where(AuditLog.order_id == order.id)).one()
    assert (audit.retailer_id, audit.actor_type, audit.actor_id, audit.action, audit.to_status) == (
        shop.id,
        ActorType.RETAILER,
        shop.id,
        "order.created",
        "PENDING_OFFERS",
    )
    assert audit.details == {"invited": [ktm.id, ltp.id], "estimated_total": "7250.00"}
