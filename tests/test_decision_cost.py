"""Deciding an order: the same scores for the same inputs, whatever way the decision is written, a
constant number of statements whatever the number of offers, and the database's last guard (a
second WON refused) still leaves a consistent, logged outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from db.models import (
    AuditLog,
    DecisionConflictLog,
    OfferStatus,
    Order,
    OrderStatus,
    StockReservation,
    VendorOffer,
    WholesalerProduct,
)
from domain import selection
from domain.credit import account_balance, set_wholesaler_credit_limit
from domain.events import take_events, take_notices
from domain.offers import OrderLine, accept_at_catalog_price, pass_offer, place_order, submit_offer
from tests import factories as f
from thok.config import Settings

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=400)


def _past_order(session: Session, retailer_id: int, wholesaler_id: int, status: OrderStatus, n: int) -> None:
    """An order this wholesaler won in the last 90 days (its record: won, delivered, accept time)."""
    decided = datetime.now(UTC) - timedelta(days=3, hours=n)
    session.add(
        Order(
            ref=f"TK-HH{n:02d}",
            retailer_id=retailer_id,
            final_wholesaler_id=wholesaler_id,
            status=status,
            estimated_total=Decimal(1000),
            final_total=Decimal(1000),
            decided_at=decided,
            confirmed_at=decided + timedelta(minutes=20 + 10 * n),
            delivered_at=decided + timedelta(days=1) if status is OrderStatus.DELIVERED else None,
        )
    )
    session.flush()


@pytest.fixture
def market(session: Session) -> dict[str, Any]:
    rice = f.product(session, "RICE-JEERA")
    dal = f.product(session, "DAL-MASOOR")
    names = ("Ktm Traders", "Lalitpur Wholesale", "Far Supplies", "Bhaktapur Mart", "Pokhara Depot")
    sellers = [f.wholesaler(session, name) for name in names]
    for w, rice_price, dal_price in zip(
        sellers, (2400, 2300, 2350, 2380, 2450), (160, 150, 155, 152, 140), strict=True
    ):
        f.price(session, w, rice, rice_price, 20)
        f.price(session, w, dal, dal_price, 100)
    shop = f.retailer(session, "Krishna", "Kathmandu", limit=50_000)
    other = f.retailer(session, "Sita", "Lalitpur", limit=50_000)
    # A record: Ktm delivered twice and confirmed once more; Far confirmed once, delivered nothing.
    for n, (w, status) in enumerate(
        ((sellers[0], OrderStatus.DELIVERED), (sellers[0], OrderStatus.DELIVERED), (sellers[0], OrderStatus.CONFIRMED))
    ):
        _past_order(session, other.id, w.id, status, n)
    _past_order(session, other.id, sellers[2].id, OrderStatus.CONFIRMED, 7)
    # Per-wholesaler limits: Bhaktapur's is below the order (credit short), Lalitpur's is roomy.
    set_wholesaler_credit_limit(session, shop.id, sellers[3].id, Decimal(4000))
    set_wholesaler_credit_limit(session, shop.id, sellers[1].id, Decimal(20000))
    return {"rice": rice, "dal": dal, "sellers": sellers, "shop": shop}


def _order(session: Session, m: dict[str, Any], settings: Settings) -> Order:
    order = place_order(
        session,
        m["shop"],
        [OrderLine(m["rice"].id, Decimal(2)), OrderLine(m["dal"].id, Decimal(10))],
        settings,
        now=NOW,
    )
    ktm, ltp, far, bkt, pkr = m["sellers"]
    submit_offer(session, ktm.id, order.ref, Decimal("5900"), 0, now=NOW + timedelta(seconds=30))
    submit_offer(session, ltp.id, order.ref, Decimal("6050"), 2, now=NOW + timedelta(seconds=20))
    accept_at_catalog_price(session, far.id, order.ref, now=NOW + timedelta(seconds=40))
    submit_offer(session, bkt.id, order.ref, Decimal("5500"), 1, now=NOW + timedelta(seconds=10))
    pass_offer(session, pkr.id, order.ref, now=NOW + timedelta(seconds=50))
    take_events(session), take_notices(session)
    return order


WEIGHTS = {"price": 0.5, "credit": 0.1, "record": 0.2, "delivery": 0.2}

# What the engine scored before the decision was rewritten as set-based statements: pinned so the
# rewrite changes how the scores are written, never what they are.
PINNED = [
    (
        "Ktm Traders",
        Decimal("0.8901"),
        {
            "weights": WEIGHTS,
            "won_90d": 3,
            "eligible": True,
            "components": {"price": 0.9322, "credit": 1.0, "record": 0.62, "delivery": 1.0},
            "total_price": "5900.00",
            "delivered_90d": 2,
            "delivery_days": 0,
            "credit_headroom": "50000.00",
            "avg_accept_hours": 0.5,
        },
        "WON",
    ),
    (
        "Bhaktapur Mart",
        Decimal("0.7727"),
        {
            "reason": "credit: available NPR 4,000 < NPR 5,500",
            "weights": WEIGHTS,
            "won_90d": 0,
            "eligible": False,
            "components": {"price": 1.0, "credit": 0.7273, "record": 0.5, "delivery": 0.5},
            "total_price": "5500.00",
            "delivered_90d": 0,
            "delivery_days": 1,
            "credit_headroom": "4000.00",
            "avg_accept_hours": 1.0,
        },
        "LOST",
    ),
    (
        "Lalitpur Wholesale",
        Decimal("0.7212"),
        {
            "weights": WEIGHTS,
            "won_90d": 0,
            "eligible": True,
            "components": {"price": 0.9091, "credit": 1.0, "record": 0.5, "delivery": 0.3333},
            "total_price": "6050.00",
            "delivered_90d": 0,
            "delivery_days": 2,
            "credit_headroom": "20000.00",
            "avg_accept_hours": 1.0,
        },
        "LOST",
    ),
    (
        "Far Supplies",
        Decimal("0.7107"),
        {
            "weights": WEIGHTS,
            "won_90d": 1,
            "eligible": True,
            "components": {"price": 0.88, "credit": 1.0, "record": 0.3533, "delivery": 0.5},
            "total_price": "6250.00",
            "delivered_90d": 0,
            "delivery_days": 1,
            "credit_headroom": "50000.00",
            "avg_accept_hours": 1.5,
        },
        "LOST",
    ),
    ("Pokhara Depot", None, None, "PASSED"),
]


def _scored(session: Session, order_id: int) -> list[tuple[str, Decimal | None, dict[str, Any] | None, str]]:
    rows = session.execute(
        text(
            "SELECT w.name, o.score, o.score_breakdown, o.status FROM vendor_offers o JOIN wholesalers w "
            "ON w.id = o.wholesaler_id WHERE o.order_id = :o ORDER BY o.score DESC NULLS LAST, w.name"
        ),
        {"o": order_id},
    )
    return [(r.name, r.score, r.score_breakdown, r.status) for r in rows]


def _decided_at(session: Session, order_id: int) -> dict[str, datetime | None]:
    rows = session.execute(
        text(
            "SELECT w.name, o.decided_at FROM vendor_offers o JOIN wholesalers w ON w.id = o.wholesaler_id "
            "WHERE o.order_id = :o"
        ),
        {"o": order_id},
    )
    return {r.name: r.decided_at for r in rows}


def _reserved(session: Session) -> dict[int, Decimal]:
    rows = session.execute(
        select(WholesalerProduct.wholesaler_id, func.sum(WholesalerProduct.reserved_stock)).group_by(
            WholesalerProduct.wholesaler_id
        )
    )
    return {w: q for w, q in rows if q}


def test_scores_breakdowns_and_outcome_are_pinned(session: Session, market: dict[str, Any], settings: Settings) -> None:
    order = _order(session, market, settings)
    ktm, ltp, far, bkt, pkr = market["sellers"]
    result = selection.close_offer_window(session, order.id, settings, source="test", now=LATER)
    assert (result.outcome, result.wholesaler_id) == ("won", ktm.id)
    # What the session holds agrees with the database (no stale ORM state flushed later).
    in_session = {o.wholesaler_id: (o.status.value, o.score) for o in session.scalars(select(VendorOffer))}
    session.flush()
    session.expire_all()
    assert _scored(session, order.id) == PINNED
    assert in_session == {o.wholesaler_id: (o.status.value, o.score) for o in session.scalars(select(VendorOffer))}
    assert _decided_at(session, order.id) == {n: LATER if n != "Pokhara Depot" else None for n, *_ in PINNED}
    order = session.get_one(Order, order.id)
    assert (order.status, order.final_wholesaler_id, order.final_total, order.decided_at) == (
        OrderStatus.WHOLESALER_SELECTED,
        ktm.id,
        Decimal("5900.00"),
        LATER,
    )
    assert order.accept_deadline_at == LATER + timedelta(seconds=settings.accept_window_seconds)
    assert _reserved(session) == {ktm.id: Decimal(12)}
    rows = session.scalars(select(StockReservation).where(StockReservation.order_id == order.id)).all()
    assert sorted((r.quantity, r.expires_at) for r in rows) == [
        (Decimal(2), order.accept_deadline_at),
        (Decimal(10), order.accept_deadline_at),
    ]
    audit = session.scalars(select(AuditLog).where(AuditLog.order_id == order.id, AuditLog.to_status.is_not(None)))
    assert [(a.from_status, a.to_status, a.details) for a in audit][-1] == (
        "PENDING_OFFERS",
        "WHOLESALER_SELECTED",
        {"offer_id": result.offer_id, "score": "0.8901"},
    )
    notices = [(n.key, n.to_id) for n in take_notices(session)]
    assert notices == [
        ("offer_won", ktm.id),
        ("winner_selected", market["shop"].id),
        ("offer_lost", bkt.id),  # in the order they scored
        ("offer_lost", ltp.id),
        ("offer_lost", far.id),
    ]


def test_stock_gone_falls_to_the_next_offer_and_a_passing_winner_hands_on(
    session: Session, market: dict[str, Any], settings: Settings
) -> None:
    order = _order(session, market, settings)
    ktm, ltp, far, bkt, pkr = market["sellers"]
    # Ktm sold its dal meanwhile: its rice must not stay reserved either.
    session.execute(
        WholesalerProduct.__table__.update()
        .where(WholesalerProduct.wholesaler_id == ktm.id, WholesalerProduct.product_id == market["dal"].id)
        .values(stock=5)
    )
    result = selection.close_offer_window(session, order.id, settings, source="test", now=LATER)
    assert result.wholesaler_id == ltp.id  # Bhaktapur scores higher but its credit is short
    assert _reserved(session) == {ltp.id: Decimal(12)}
    later = LATER + timedelta(minutes=1)
    again = selection.decline_winner(
        session,
        session.get_one(Order, order.id),
        settings,
        reason="passed",
        source="test",
        actor_type=selection.ActorType.WHOLESALER,
        now=later,
    )
    assert again.wholesaler_id == far.id
    assert _reserved(session) == {far.id: Decimal(12)}
    session.flush()
    session.expire_all()
    statuses = {name: status for name, _, _, status in _scored(session, order.id)}
    assert statuses == {
        "Far Supplies": "WON",
        "Lalitpur Wholesale": "DECLINED",
        "Ktm Traders": "LOST",
        "Bhaktapur Mart": "LOST",
        "Pokhara Depot": "PASSED",
    }
    # The offers that had lost already keep when they lost; the new winner is stamped now.
    assert _decided_at(session, order.id) == {
        "Far Supplies": later,
        "Lalitpur Wholesale": LATER,
        "Ktm Traders": LATER,
        "Bhaktapur Mart": LATER,
        "Pokhara Depot": None,
    }


def test_no_usable_offer_marks_every_offer_lost_in_one_go(
    session: Session, market: dict[str, Any], settings: Settings
) -> None:
    order = _order(session, market, settings)
    session.execute(WholesalerProduct.__table__.update().values(stock=1))
    result = selection.close_offer_window(session, order.id, settings, source="test", now=LATER)
    assert result.outcome == "expired"
    session.flush()
    session.expire_all()
    assert [(n, s, st) for n, s, _, st in _scored(session, order.id)] == [
        (n, s, "LOST" if st != "PASSED" else st) for n, s, _, st in PINNED
    ]
    assert _reserved(session) == {}
    assert session.get_one(Order, order.id).status is OrderStatus.EXPIRED
    assert account_balance(session, market["shop"].id).held == 0


def test_a_second_winner_refused_by_the_database_is_logged_and_nothing_is_half_written(
    session: Session, market: dict[str, Any], settings: Settings
) -> None:
    order = _order(session, market, settings)
    ktm, ltp, far, bkt, pkr = market["sellers"]
    # Something that bypassed the order lock marked an offer WON (the unique index is the last guard).
    session.execute(
        text("UPDATE vendor_offers SET status = 'WON' WHERE order_id = :o AND wholesaler_id = :w"),
        {"o": order.id, "w": pkr.id},
    )
    audits = session.scalar(select(func.count()).select_from(AuditLog))
    result = selection.close_offer_window(session, order.id, settings, source="worker:x", now=LATER)
    assert result.outcome == "conflict"
    log = session.scalars(select(DecisionConflictLog).where(DecisionConflictLog.order_id == order.id)).one()
    assert (log.source, log.attempted_wholesaler_id) == ("worker:x", ktm.id)
    assert "database refused a second winner" in log.reason
    session.flush()
    session.expire_all()
    order = session.get_one(Order, order.id)
    assert (order.status, order.final_wholesaler_id, order.decided_at) == (OrderStatus.PENDING_OFFERS, None, None)
    assert _reserved(session) == {}
    assert session.scalar(select(func.count()).where(StockReservation.status == "ACTIVE")) == 0
    assert session.scalar(select(func.count()).select_from(AuditLog)) == audits
    assert {n: st for n, _, _, st in _scored(session, order.id)} == {
        "Ktm Traders": "SUBMITTED",
        "Lalitpur Wholesale": "SUBMITTED",
        "Far Supplies": "SUBMITTED",
        "Bhaktapur Mart": "SUBMITTED",
        "Pokhara Depot": "WON",
    }
    assert take_events(session) == [] and take_notices(session) == []


def _statements(session: Session, run: Any) -> list[str]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split())[:60])

    conn = session.connection()
    event.listen(conn, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(conn, "before_cursor_execute", count)
    return seen


@pytest.mark.parametrize("sellers", [1, 5])
def test_deciding_costs_the_same_statements_whatever_the_number_of_offers(
    session: Session, market: dict[str, Any], settings: Settings, sellers: int
) -> None:
    """Lock the order, read its offers, the scoring facts, reserve the stock, then the winner's
    writes in a savepoint (the offers' scores and outcomes, the order, its audit row)."""
    for w in market["sellers"][sellers:]:
        session.execute(
            text("UPDATE wholesaler_products SET is_available = false WHERE wholesaler_id = :w"), {"w": w.id}
        )
    order = place_order(
        session,
        market["shop"],
        [OrderLine(market["rice"].id, Decimal(2)), OrderLine(market["dal"].id, Decimal(10))],
        settings,
        now=NOW,
    )
    session.flush()
    assert session.scalar(select(func.count()).where(VendorOffer.order_id == order.id)) == sellers
    seen = _statements(
        session, lambda: selection.close_offer_window(session, order.id, settings, source="test", now=LATER)
    )
    assert [s.split()[0] for s in seen] == [
        "SELECT",  # the order, locked
        "SELECT",  # its offers, locked
        "WITH",  # the account, the records, the pairs' limits
        "WITH",  # the stock, reserved
        "SAVEPOINT",
        "UPDATE",  # the offers' scores and outcomes
        "UPDATE",  # the order
        "INSERT",  # its audit row
        "RELEASE",
    ], seen


def test_a_decision_rolled_back_by_the_caller_leaves_the_session_agreeing_with_the_database(
    session: Session, market: dict[str, Any], settings: Settings
) -> None:
    """An admin's forced winner that cannot be served is undone by the caller's savepoint: the
    offers the session holds must not keep the outcome that was rolled back."""
    order = _order(session, market, settings)
    bkt = market["sellers"][3]
    forced = session.scalars(
        select(VendorOffer).where(VendorOffer.order_id == order.id, VendorOffer.wholesaler_id == bkt.id)
    ).one()
    savepoint = session.begin_nested()
    result = selection.pick_winner(session, order.id, settings, source="admin:1", forced_offer_id=forced.id)
    assert result.outcome == "expired"  # Bhaktapur's own limit is short
    savepoint.rollback()
    assert (forced.status, forced.score, forced.decided_at) == (OfferStatus.SUBMITTED, None, None)
    assert session.get_one(Order, order.id).status is OrderStatus.PENDING_OFFERS
