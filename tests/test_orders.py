"""The order state machine, offers and the decision engine, on real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    ActorType,
    AuditLog,
    DecisionConflictLog,
    EntryType,
    LedgerEntry,
    OfferStatus,
    Order,
    OrderStatus,
    ReservationStatus,
    StockReservation,
    VendorOffer,
    WholesalerProduct,
)
from domain import fulfilment, selection
from domain.credit import account_balance
from domain.errors import CreditLimitExceeded
from domain.events import OfferWindowOpened, OfferWindowReady, WinnerSelected, take_events, take_notices
from domain.offers import (
    LateOffer,
    NotInvited,
    NoWholesalerAvailable,
    OrderLine,
    accept_at_catalog_price,
    pass_offer,
    place_order,
    submit_offer,
)
from domain.orders import TRANSITIONS, IllegalTransition, transition
from tests import factories as f
from thok.config import Settings

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


@pytest.fixture
def market(session: Session) -> dict:
    rice = f.product(session, "RICE-JEERA")
    dal = f.product(session, "DAL-MASOOR")
    ktm = f.wholesaler(session, "Ktm Traders", "Kathmandu")
    ltp = f.wholesaler(session, "Lalitpur Wholesale", "Lalitpur")
    far = f.wholesaler(session, "Far Supplies", "Morang")
    for w, rice_price, dal_price in ((ktm, 2400, 160), (ltp, 2300, 150), (far, 2350, 155)):
        f.price(session, w, rice, rice_price, 20)
        f.price(session, w, dal, dal_price, 100)
    shop = f.retailer(session, "Krishna", "Kathmandu", limit=50_000)
    return {"rice": rice, "dal": dal, "ktm": ktm, "ltp": ltp, "far": far, "shop": shop}


def lines(m: dict, rice: str = "2", dal: str = "10") -> list[OrderLine]:
    return [OrderLine(m["rice"].id, Decimal(rice)), OrderLine(m["dal"].id, Decimal(dal))]


def offers_of(session: Session, order: Order) -> dict[int, VendorOffer]:
    return {o.wholesaler_id: o for o in session.scalars(select(VendorOffer).where(VendorOffer.order_id == order.id))}


def reserved(session: Session, wholesaler_id: int) -> Decimal:
    return session.scalar(
        select(func.sum(WholesalerProduct.reserved_stock)).where(WholesalerProduct.wholesaler_id == wholesaler_id)
    ) or Decimal(0)


# --- the transition table ------------------------------------------------------------------------


def test_every_status_has_a_row_and_final_states_are_final() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    for final in (OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED):
        assert TRANSITIONS[final] == frozenset()


def test_an_illegal_move_is_refused_and_leaves_no_audit(session: Session, market: dict, settings: Settings) -> None:
    order = place_order(session, market["shop"], lines(market), settings, now=NOW)
    before = session.scalar(select(func.count()).select_from(AuditLog))
    with pytest.raises(IllegalTransition, match=r"is PENDING_OFFERS; it cannot become DELIVERED"):
        transition(session, order, OrderStatus.DELIVERED, actor_type=ActorType.SYSTEM)
    assert order.status is OrderStatus.PENDING_OFFERS
    assert session.scalar(select(func.count()).select_from(AuditLog)) == before


def test_a_legal_move_is_audited_with_who_and_why(session: Session, market: dict, settings: Settings) -> None:
    order = place_order(session, market["shop"], lines(market), settings, now=NOW)
    fulfilment.cancel_order(
        session, order.id, actor_type=ActorType.RETAILER, actor_id=market["shop"].id, reason="changed mind"
    )
    log = session.scalars(
        select(AuditLog).where(AuditLog.order_id == order.id, AuditLog.action == "order.transition")
    ).one()
    assert (log.from_status, log.to_status, log.actor_type, log.actor_id, log.reason) == (
        "PENDING_OFFERS",
        "CANCELLED",
        ActorType.RETAILER,
        market["shop"].id,
        "changed mind",
    )


# --- placing an order ----------------------------------------------------------------------------


def test_placing_invites_eligible_wholesalers_and_holds_credit(
    session: Session, market: dict, settings: Settings
) -> None:
    # Far Supplies has only 1 bora of rice: not eligible for 2.
    session.execute(
        WholesalerProduct.__table__.update()
        .where(WholesalerProduct.wholesaler_id == market["far"].id, WholesalerProduct.product_id == market["rice"].id)
        .values(stock=1)
    )
    order = place_order(session, market["shop"], lines(market), settings, now=NOW)
    assert order.ref.startswith("TK-") and order.status is OrderStatus.PENDING_OFFERS
    offers = offers_of(session, order)
    assert set(offers) == {market["ktm"].id, market["ltp"].id}
    assert offers[market["ltp"].id].total_price == Decimal("6100.00")  # 2 x 2300 + 10 x 150
    assert order.estimated_total == Decimal("6100.00")
    assert account_balance(session, market["shop"].id).held == Decimal("6100.00")
    assert order.offer_window_closes_at == NOW + timedelta(seconds=settings.offer_window_seconds)
    events = take_events(session)
    assert events == [OfferWindowOpened(order.id, order.offer_window_closes_at)]
    invites = [n for n in take_notices(session) if n.key == "offer_invite"]
    assert {n.to_id for n in invites} == set(offers) and all(n.params["ref"] == order.ref for n in invites)


def test_over_the_credit_limit_leaves_no_order_behind(session: Session, market: dict, settings: Settings) -> None:
    with pytest.raises(CreditLimitExceeded, match=r"available NPR 50,000, order NPR 61,000"):
        place_order(session, market["shop"], lines(market, rice="20", dal="100"), settings, now=NOW)
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    assert session.scalar(select(func.count()).select_from(VendorOffer)) == 0
    assert account_balance(session, market["shop"].id).held == 0


def test_no_wholesaler_in_stock_is_refused(session: Session, market: dict, settings: Settings) -> None:
    with pytest.raises(NoWholesalerAvailable):
        place_order(session, market["shop"], lines(market, rice="21"), settings, now=NOW)
    assert session.scalar(select(func.count()).select_from(Order)) == 0


# --- the offer window ----------------------------------------------------------------------------


@pytest.fixture
def order(session: Session, market: dict, settings: Settings) -> Order:
    o = place_order(session, market["shop"], lines(market), settings, now=NOW)
    take_events(session), take_notices(session)
    return o


def test_better_offers_during_the_window_and_late_ones_refused(session: Session, market: dict, order: Order) -> None:
    offer = submit_offer(
        session, market["ktm"].id, order.ref.lower(), Decimal("5900"), 0, now=NOW + timedelta(seconds=10)
    )
    assert (offer.status, offer.total_price, offer.delivery_days) == (OfferStatus.SUBMITTED, Decimal("5900.00"), 0)
    with pytest.raises(LateOffer, match="has closed"):
        submit_offer(session, market["ltp"].id, order.ref, Decimal("5000"), now=NOW + timedelta(seconds=301))
    outsider = f.wholesaler(session, "Not asked")
    with pytest.raises(NotInvited):
        submit_offer(session, outsider.id, order.ref, Decimal("5000"), now=NOW + timedelta(seconds=10))


def test_the_window_closes_early_once_everyone_answered(session: Session, market: dict, order: Order) -> None:
    accept_at_catalog_price(session, market["ktm"].id, order.ref, now=NOW)
    pass_offer(session, market["far"].id, order.ref, now=NOW)
    assert take_events(session) == []
    submit_offer(session, market["ltp"].id, order.ref, Decimal("6000"), 1, now=NOW)
    assert take_events(session) == [OfferWindowReady(order.id)]


def test_a_timer_firing_early_does_not_decide(session: Session, market: dict, order: Order, settings: Settings) -> None:
    result = selection.close_offer_window(session, order.id, settings, source="test", now=NOW + timedelta(seconds=5))
    assert result.outcome == "not_open"
    assert order.status is OrderStatus.PENDING_OFFERS and order.final_wholesaler_id is None


# --- deciding ------------------------------------------------------------------------------------


def decide(session: Session, order: Order, settings: Settings, source: str = "test") -> selection.Decision:
    return selection.close_offer_window(session, order.id, settings, source=source, now=NOW + timedelta(seconds=400))


def test_the_best_offer_wins_and_reserves_its_stock(
    session: Session, market: dict, order: Order, settings: Settings
) -> None:
    submit_offer(session, market["ktm"].id, order.ref, Decimal("5800"), 0, now=NOW)  # cheapest and fastest
    result = decide(session, order, settings)
    assert (result.outcome, result.wholesaler_id) == ("won", market["ktm"].id)
    session.refresh(order)
    assert order.status is OrderStatus.WHOLESALER_SELECTED
    assert order.final_wholesaler_id == market["ktm"].id and order.final_total == Decimal("5800.00")
    offers = offers_of(session, order)
    assert offers[market["ktm"].id].status is OfferStatus.WON
    assert {offers[w].status for w in (market["ltp"].id, market["far"].id)} == {OfferStatus.LOST}
    breakdown = offers[market["ktm"].id].score_breakdown
    assert breakdown is not None and breakdown["components"]["price"] == 1.0 and breakdown["eligible"]
    assert offers[market["ktm"].id].score > offers[market["ltp"].id].score
    assert reserved(session, market["ktm"].id) == Decimal("12")  # 2 bora + 10 kg
    rows = session.scalars(select(StockReservation).where(StockReservation.order_id == order.id)).all()
    assert len(rows) == 2 and all(r.status is ReservationStatus.ACTIVE for r in rows)
    assert any(isinstance(e, WinnerSelected) for e in take_events(session))
    keys = {n.key for n in take_notices(session)}
    assert {"offer_won", "winner_selected"} <= keys


def test_scoring_is_deterministic(session: Session, market: dict, order: Order, settings: Settings) -> None:
    offers = list(offers_of(session, order).values())
    first = [(o.wholesaler_id, s) for o, s, _ in selection.score_offers(session, order, offers, settings)]
    second = [
        (o.wholesaler_id, s) for o, s, _ in selection.score_offers(session, order, list(reversed(offers)), settings)
    ]
    assert first == second
    assert first[0][0] == market["ltp"].id  # the cheapest catalog price, all else equal


def test_if_the_best_offers_stock_is_gone_the_next_wins(
    session: Session, market: dict, order: Order, settings: Settings
) -> None:
    # Lalitpur (cheapest) sold its rice elsewhere meanwhile.
    session.execute(
        WholesalerProduct.__table__.update()
        .where(WholesalerProduct.wholesaler_id == market["ltp"].id, WholesalerProduct.product_id == market["rice"].id)
        .values(stock=1)
    )
    result = decide(session, order, settings)
    assert result.outcome == "won" and result.wholesaler_id != market["ltp"].id
    assert reserved(session, market["ltp"].id) == 0  # its dal was not left reserved either


def test_no_usable_offer_expires_the_order_and_releases_credit(
    session: Session, market: dict, order: Order, settings: Settings
) -> None:
    for w in ("ktm", "ltp", "far"):
        pass_offer(session, market[w].id, order.ref, now=NOW)
    result = decide(session, order, settings)
    assert result.outcome == "expired"
    session.refresh(order)
    assert order.status is OrderStatus.EXPIRED
    assert account_balance(session, market["shop"].id).held == 0
    assert "order_expired" in {n.key for n in take_notices(session)}


def test_a_second_decision_changes_nothing_and_only_a_real_one_is_logged(
    session: Session, market: dict, order: Order, settings: Settings
) -> None:
    first = decide(session, order, settings, source="worker:a")
    # Closing the decided window again (the timer after an early close, a re-run job): expected.
    second = decide(session, order, settings, source="worker:b")
    assert (first.outcome, second.outcome) == ("won", "not_open")
    assert second.wholesaler_id == first.wholesaler_id
    assert session.scalar(select(func.count()).select_from(DecisionConflictLog)) == 0
    # Deciding the decided order itself is a conflict, and is logged.
    third = selection.pick_winner(session, order.id, settings, source="worker:c")
    assert third.outcome == "conflict"
    conflicts = session.scalars(select(DecisionConflictLog).where(DecisionConflictLog.order_id == order.id)).all()
    assert len(conflicts) == 1
    assert conflicts[0].source == "worker:c" and conflicts[0].existing_wholesaler_id == first.wholesaler_id
    assert session.scalar(select(func.count()).select_from(StockReservation)) == 2


def test_an_admin_override_racing_a_decided_order_is_logged(
    session: Session, market: dict, order: Order, settings: Settings
) -> None:
    decide(session, order, settings)
    other = offers_of(session, order)[market["far"].id]
    result = selection.pick_winner(session, order.id, settings, source="admin:1", forced_offer_id=other.id)
    assert result.outcome == "conflict"
    log = session.scalars(select(DecisionConflictLog)).one()
    assert log.attempted_wholesaler_id == market["far"].id


def test_winner_passing_hands_the_order_to_the_next(
    session: Session, market: dict, order: Order, settings: Settings
) -> None:
    first = decide(session, order, settings)
    result = selection.decline_as_winner(session, first.wholesaler_id, order.ref, settings)
    assert result.outcome == "won" and result.wholesaler_id != first.wholesaler_id
    assert reserved(session, first.wholesaler_id) == 0
    assert reserved(session, result.wholesaler_id) == Decimal("12")
    offers = offers_of(session, order)
    assert offers[first.wholesaler_id].status is OfferStatus.DECLINED
    assert offers[result.wholesaler_id].status is OfferStatus.WON


def test_winner_timing_out_falls_to_the_next_offer(
    session: Session, market: dict, order: Order, settings: Settings
) -> None:
    first = decide(session, order, settings)
    assert first.offer_id is not None
    too_soon = selection.winner_accept_timeout(
        session, order.id, first.offer_id, settings, now=NOW + timedelta(seconds=401)
    )
    assert too_soon.outcome == "not_open"
    later = NOW + timedelta(seconds=400 + settings.accept_window_seconds + 1)
    result = selection.winner_accept_timeout(session, order.id, first.offer_id, settings, now=later)
    assert result.outcome == "won" and result.wholesaler_id != first.wholesaler_id
    again = selection.winner_accept_timeout(session, order.id, first.offer_id, settings, now=later)
    assert again.outcome == "not_open"  # a duplicate timer for the old winner does nothing


def test_confirming_posts_one_debit_and_delivery_consumes_stock(
    session: Session, market: dict, order: Order, settings: Settings
) -> None:
    won = decide(session, order, settings)
    fulfilment.confirm_winner(session, won.wholesaler_id, order.ref, settings)
    session.refresh(order)
    assert order.status is OrderStatus.CONFIRMED
    debit = session.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order.id)).one()
    assert (debit.entry_type, debit.amount, debit.idempotency_key) == (
        EntryType.DEBIT,
        order.final_total,
        f"order:{order.id}:debit",
    )
    bal = account_balance(session, market["shop"].id)
    assert (bal.outstanding, bal.held) == (order.final_total, 0)
    with pytest.raises(Exception, match="not waiting for your acceptance"):
        fulfilment.confirm_winner(session, won.wholesaler_id, order.ref, settings)

    fulfilment.mark_dispatched(session, order, actor_type=ActorType.WHOLESALER, actor_id=won.wholesaler_id)
    fulfilment.mark_delivered(session, order, actor_type=ActorType.WHOLESALER, actor_id=won.wholesaler_id)
    rice = session.scalars(
        select(WholesalerProduct).where(
            WholesalerProduct.wholesaler_id == won.wholesaler_id, WholesalerProduct.product_id == market["rice"].id
        )
    ).one()
    assert (rice.stock, rice.reserved_stock) == (Decimal("18"), Decimal("0"))
    assert {r.status for r in session.scalars(select(StockReservation))} == {ReservationStatus.CONSUMED}


@pytest.mark.parametrize("stage", ["pending", "selected", "confirmed", "dispatched"])
def test_cancellation_at_each_state(
    session: Session, market: dict, order: Order, settings: Settings, stage: str
) -> None:
    shop = market["shop"].id
    won = decide(session, order, settings) if stage != "pending" else None
    if stage in ("confirmed", "dispatched"):
        assert won is not None
        fulfilment.confirm_winner(session, won.wholesaler_id, order.ref, settings)
    if stage == "dispatched":
        assert won is not None
        fulfilment.mark_dispatched(session, order, actor_type=ActorType.WHOLESALER, actor_id=won.wholesaler_id)
        with pytest.raises(IllegalTransition, match="is DISPATCHED; it cannot become CANCELLED"):
            fulfilment.cancel_order(session, order.id, actor_type=ActorType.RETAILER, actor_id=shop, reason="late")
        return
    fulfilment.cancel_order(session, order.id, actor_type=ActorType.RETAILER, actor_id=shop, reason="not needed")
    session.refresh(order)
    assert order.status is OrderStatus.CANCELLED
    bal = account_balance(session, shop)
    assert (bal.held, bal.outstanding) == (0, 0)  # hold released, or the debit answered by a CREDIT
    assert session.scalar(select(func.sum(WholesalerProduct.reserved_stock))) == 0
    if stage == "confirmed":
        kinds = sorted(
            e.entry_type.value for e in session.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order.id))
        )
        assert kinds == ["CREDIT", "DEBIT"]
