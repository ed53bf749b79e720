"""Concurrency and crashes, on a real committed database: no oversell, one winner, no double posting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import func, select

from db.models import (
    DecisionConflictLog,
    LedgerEntry,
    OfferStatus,
    Order,
    OrderStatus,
    ReservationStatus,
    StockReservation,
    VendorOffer,
    WholesalerProduct,
)
from db.session import Database
from domain import selection
from domain.errors import DomainError
from domain.offers import OrderLine, place_order
from tests import factories as f
from tests.conftest import ROOT
from tests.invariants import check_invariants
from thok.config import Settings


@pytest.fixture
def db(fresh_database_url: str) -> Database:
    database = Database(fresh_database_url, pool_size=25, max_overflow=30)
    yield database
    database.dispose()


def invariants(database: Database) -> None:
    """Stock, reservations, winners and credit agree, whatever happened."""
    with database.session() as s:
        check_invariants(s)


def test_fifty_threads_ordering_the_last_ten_units(db: Database, settings: Settings) -> None:
    settings = settings.with_overrides(offer_window_seconds=0)
    with db.unit_of_work() as uow:
        s = uow.session
        product = f.product(s, "EGG-TRAY", unit="tray")
        wholesaler = f.wholesaler(s)
        f.price(s, wholesaler, product, 420, 10)
        shops = [f.retailer(s, f"Shop {i}").id for i in range(50)]
        uow.commit()

    barrier = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def order_one(retailer_id: int) -> None:
        barrier.wait()
        outcome = "error"
        try:
            with db.unit_of_work() as uow:
                from db.models import Retailer

                shop = uow.session.get(Retailer, retailer_id)
                assert shop is not None
                order = place_order(uow.session, shop, [OrderLine(product.id, Decimal(1))], settings)
                uow.commit()
            with db.unit_of_work() as uow:
                outcome = selection.close_offer_window(uow.session, order.id, settings, source="test").outcome
                uow.commit()
        except DomainError as exc:
            outcome = type(exc).__name__
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=order_one, args=(rid,)) for rid in shops]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    counts = Counter(outcomes)
    assert len(outcomes) == 50 and counts["error"] == 0, counts
    assert counts["won"] == 10, counts
    with db.session() as s:
        row = s.scalars(select(WholesalerProduct)).one()
        assert (row.stock, row.reserved_stock) == (Decimal("10"), Decimal("10"))
        active = s.scalar(
            select(func.sum(StockReservation.quantity)).where(StockReservation.status == ReservationStatus.ACTIVE)
        )
        assert active == Decimal("10")
        assert (
            s.scalar(select(func.count()).select_from(VendorOffer).where(VendorOffer.status == OfferStatus.WON)) == 10
        )
    invariants(db)


@pytest.fixture
def open_order(db: Database, settings: Settings) -> int:
    with db.unit_of_work() as uow:
        s = uow.session
        rice = f.product(s, "RICE-JEERA")
        for name in ("A", "B", "C"):
            f.price(s, f.wholesaler(s, name), rice, 2400, 50)
        shop = f.retailer(s)
        order = place_order(
            s, shop, [OrderLine(rice.id, Decimal(2))], settings, now=datetime.now(UTC) - timedelta(hours=1)
        )
        uow.commit()
        return order.id


def test_two_workers_closing_the_same_window(db: Database, settings: Settings, open_order: int) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def close(name: str) -> None:
        barrier.wait()
        with db.unit_of_work() as uow:
            outcomes.append(selection.close_offer_window(uow.session, open_order, settings, source=name).outcome)
            uow.commit()

    threads = [threading.Thread(target=close, args=(f"worker:{n}",)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # The second closer finds the order decided: nothing changes, and that is no conflict (issue 19).
    assert sorted(outcomes) == ["not_open", "won"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(DecisionConflictLog)) == 0
        assert s.scalar(select(func.count()).select_from(VendorOffer).where(VendorOffer.status == OfferStatus.WON)) == 1
        assert s.scalar(select(func.count()).select_from(StockReservation)) == 1
    invariants(db)


def _victim(url: str, redis_url: str, code: str) -> subprocess.Popen[str]:
    sep = "&" if "?" in url else "?"
    env = {**os.environ, "DATABASE_URL": f"{url}{sep}application_name=victim", "REDIS_URL": redis_url}
    # A production job process refuses to start without Twilio (it would "send" to the simulator).
    env.update(TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN="t", TWILIO_WHATSAPP_FROM="whatsapp:+14155238886")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, text=True)


def _wait_until_blocked(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'victim' AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the victim never reached the lock")


def _kill_midway(url: str, redis_url: str, code: str, lock_sql: str) -> None:
    """Hold a row lock the victim needs half-way through its transaction, SIGKILL it there."""
    with psycopg.connect(url) as blocker:
        blocker.execute(lock_sql)
        victim = _victim(url, redis_url, code)
        try:
            _wait_until_blocked(url)
            victim.send_signal(signal.SIGKILL)
            assert victim.wait(timeout=30) == -signal.SIGKILL
        finally:
            if victim.poll() is None:
                victim.kill()
        blocker.rollback()


def test_a_worker_killed_mid_decision_then_rerun(
    db: Database, fresh_database_url: str, redis_url: str, settings: Settings, open_order: int
) -> None:
    job = f"from workers.orders import close_offer_window; close_offer_window({open_order})"
    # The decision locks the order and its offers, then blocks reserving stock: killed right there.
    _kill_midway(fresh_database_url, redis_url, job, "SELECT * FROM wholesaler_products FOR UPDATE")
    with db.session() as s:
        order = s.get(Order, open_order)
        assert order is not None and order.status is OrderStatus.PENDING_OFFERS and order.final_wholesaler_id is None
        assert s.scalar(select(func.count()).select_from(StockReservation)) == 0

    rerun = _victim(fresh_database_url, redis_url, job)
    assert rerun.wait(timeout=60) == 0
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(VendorOffer).where(VendorOffer.status == OfferStatus.WON)) == 1
        assert s.scalar(select(func.count()).select_from(StockReservation)) == 1
        winner = s.get(Order, open_order)
        assert winner is not None and winner.status is OrderStatus.WHOLESALER_SELECTED
        wholesaler_id, ref = winner.final_wholesaler_id, winner.ref
    invariants(db)

    # Killed while posting the DEBIT (blocked on the credit account row), then accepted again.
    confirm = (
        "from thok import runtime; from domain.fulfilment import confirm_winner\n"
        "s = runtime.settings(); db = runtime.database_for(s)\n"
        f"with db.unit_of_work() as uow:\n    confirm_winner(uow.session, {wholesaler_id}, '{ref}', s); uow.commit()\n"
    )
    _kill_midway(fresh_database_url, redis_url, confirm, "SELECT * FROM credit_accounts FOR UPDATE")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    assert _victim(fresh_database_url, redis_url, confirm).wait(timeout=60) == 0
    second = _victim(fresh_database_url, redis_url, confirm)  # a duplicate ACCEPT: refused, nothing posted
    assert second.wait(timeout=60) != 0
    with db.session() as s:
        entries = s.scalars(select(LedgerEntry)).all()
        assert len(entries) == 1 and entries[0].idempotency_key == f"order:{open_order}:debit"
        assert s.get(Order, open_order).status is OrderStatus.CONFIRMED  # type: ignore[union-attr]
    invariants(db)
