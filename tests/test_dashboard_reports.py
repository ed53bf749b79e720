"""The dashboard's read queries on the real database: keyset pages neither skip nor repeat rows,
filters use Nepal dates, counts stop at the cap, and removed parties still name their old orders."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from dashboard import read_model
from db.models import Order, OrderStatus
from domain.audit import AdminActor, json_safe, record_admin_action
from domain.errors import InvalidInput
from domain.parties import create_admin, soft_delete
from tests import factories as f

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 11:45 in Kathmandu


_refs = itertools.count(10000)


def _orders(session: Session, retailer_id: int, n: int, start: datetime, status: OrderStatus) -> list[int]:
    """Bare orders (no winner: only statuses a winner-less order may have) at chosen times."""
    rows = [
        {
            "ref": f"TK-{next(_refs)}Z",
            "retailer_id": retailer_id,
            "status": status,
            "created_at": start - timedelta(minutes=i),
            "estimated_total": Decimal(100 + i),
        }
        for i in range(n)
    ]
    return list(session.scalars(insert(Order).returning(Order.id), rows))


def test_keyset_pages_cover_every_order_once_newest_first(session: Session) -> None:
    shop = f.retailer(session)
    ids = _orders(session, shop.id, 7, NOW, OrderStatus.EXPIRED)
    # Two orders in the same instant: the id breaks the tie, so the page boundary cannot drop one.
    ids += _orders(session, shop.id, 1, NOW - timedelta(minutes=3), OrderStatus.EXPIRED)
    flt = read_model.OrderFilter(retailer_id=shop.id)
    seen: list[int] = []
    after = None
    while True:
        page = read_model.list_orders(session, flt, after, limit=3)
        seen += [r.id for r in page.rows]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    created = [r.created_at for r in read_model.list_orders(session, flt, limit=50).rows]
    assert created == sorted(created, reverse=True)
    assert page.total == 8 and page.total_label == "8"


def test_filters_by_status_and_nepal_date(session: Session) -> None:
    shop = f.retailer(session)
    # 00:30 in Kathmandu on Nov 25 is still Nov 24 in UTC: the filter is by the admin's calendar.
    [early] = _orders(session, shop.id, 1, datetime(2026, 11, 24, 18, 45, tzinfo=UTC), OrderStatus.CANCELLED)
    [late] = _orders(session, shop.id, 1, datetime(2026, 11, 24, 18, 0, tzinfo=UTC), OrderStatus.EXPIRED)
    day = read_model.OrderFilter.parse({"from": "2026-11-25", "to": "2026-11-25", "retailer_id": str(shop.id)})
    assert [r.id for r in read_model.list_orders(session, day).rows] == [early]
    cancelled = read_model.OrderFilter.parse({"status": "cancelled", "retailer_id": str(shop.id)})
    assert [r.id for r in read_model.list_orders(session, cancelled).rows] == [early]
    assert late not in [r.id for r in read_model.list_orders(session, cancelled).rows]
    with pytest.raises(InvalidInput, match="unknown status"):
        read_model.OrderFilter.parse({"status": "LOST"})
    with pytest.raises(InvalidInput, match="ends .* before it starts"):
        read_model.OrderFilter.parse({"from": "2026-11-25", "to": "2026-11-01"})
    with pytest.raises(InvalidInput, match="page link is broken"):
        read_model.list_orders(session, day, after="nonsense")


def test_counts_stop_at_the_cap(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    shop = f.retailer(session)
    _orders(session, shop.id, 6, NOW, OrderStatus.EXPIRED)
    monkeypatch.setattr(read_model, "COUNT_CAP", 4)
    page = read_model.list_orders(session, read_model.OrderFilter(retailer_id=shop.id), limit=2)
    assert page.total == 5 and page.total_label == "4+"


def test_a_removed_retailer_still_names_their_orders(session: Session) -> None:
    shop = f.retailer(session, "Removed Shop")
    [order_id] = _orders(session, shop.id, 1, NOW, OrderStatus.EXPIRED)
    soft_delete(shop)
    session.flush()
    [row] = read_model.list_orders(session, read_model.OrderFilter(retailer_id=shop.id)).rows
    assert row.id == order_id and row.retailer_name == "Removed Shop"
    assert read_model.order_detail(session, order_id).retailer.name == "Removed Shop"
    live, _ = read_model.list_retailers(session, q="Removed Shop")
    gone, _ = read_model.list_retailers(session, q="Removed Shop", deleted=True)
    assert not live and [r[0].id for r in gone] == [shop.id]


def test_search_by_any_run_of_phone_digits(session: Session) -> None:
    shop = f.retailer(session, "Phone Search")
    digits = shop.whatsapp_number[-6:]
    rows, _ = read_model.list_retailers(session, q=digits)
    assert [r[0].id for r in rows] == [shop.id]
    assert not read_model.list_retailers(session, q="%_")[0]  # LIKE wildcards are taken literally


def test_audit_rows_keep_money_exact_and_filter(session: Session) -> None:
    admin = create_admin(session, "auditor@thok.local", "a-long-password")
    actor = AdminActor(admin.id, "192.0.2.7")
    record_admin_action(
        session,
        actor,
        "credit.set_limit",
        "retailer",
        42,
        before={"credit_limit": Decimal("10.10")},
        after={"credit_limit": Decimal("20.20")},
    )
    page = read_model.admin_audit(session, read_model.AuditFilter.parse({"entity_type": "retailer", "entity_id": "42"}))
    [(row, email, _, _)] = page.rows
    assert email == "auditor@thok.local" and row.after == {"credit_limit": "20.20"} and row.ip_address == "192.0.2.7"
    assert not read_model.admin_audit(session, read_model.AuditFilter.parse({"action": "order."})).rows
    assert type(json_safe(OrderStatus.EXPIRED)) is str
    assert json_safe({"at": NOW, "s": OrderStatus.EXPIRED}) == {"at": NOW.isoformat(), "s": "EXPIRED"}
