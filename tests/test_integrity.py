"""`thok check`: break each invariant with raw SQL (bypassing the app) and see it caught."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from db.models import (
    OfferStatus,
    Order,
    OrderStatus,
    Product,
    StockReservation,
    VendorOffer,
    WholesalerProduct,
)
from db.session import Database
from domain.credit import set_wholesaler_credit_limit
from domain.integrity import run_checks
from domain.khata_payments import record_payment
from domain.ledger import post_debit, reverse_entry
from domain.parties import create_admin, register_retailer, register_wholesaler

ROOT = Path(__file__).resolve().parent.parent
D = Decimal


def _world(session: Session) -> dict[str, int]:
    """A small, consistent market: a confirmed order with its winner, reservation, debit, payment
    and a partial return."""
    r = register_retailer(session, name="Anita", phone="9846000501", credit_limit=D("20000")).id
    w1 = register_wholesaler(session, name="Gita", phone="9855000501").id
    w2 = register_wholesaler(session, name="Bikash", phone="9852000501").id
    admin = create_admin(session, "check@thok.local", "a-long-password").id
    set_wholesaler_credit_limit(session, r, w1, D("10000"))
    product = Product(sku="RICE-25KG", name="Jeera Masino Rice 25kg", unit="bora")
    session.add(product)
    session.flush()
    wp = WholesalerProduct(
        wholesaler_id=w1, product_id=product.id, price=D("2000"), stock=D("50"), reserved_stock=D("2")
    )
    order = Order(ref="TK-CHK1", retailer_id=r, final_wholesaler_id=w1, status=OrderStatus.CONFIRMED)
    session.add_all([wp, order])
    session.flush()
    session.add_all(
        [
            VendorOffer(order_id=order.id, wholesaler_id=w1, status=OfferStatus.WON, total_price=D("4000")),
            VendorOffer(order_id=order.id, wholesaler_id=w2, status=OfferStatus.LOST, total_price=D("4200")),
            StockReservation(wholesaler_product_id=wp.id, order_id=order.id, quantity=D("2")),
        ]
    )
    debit = post_debit(
        session,
        retailer_id=r,
        amount=D("4000"),
        idempotency_key=f"order:{order.id}:debit",
        description="TK-CHK1",
        order_id=order.id,
        wholesaler_id=w1,
    )
    record_payment(session, retailer_id=r, amount=D("1000"), method="cash", reference=None, recorded_by_admin_id=admin)
    reverse_entry(session, debit.id, "1 bora returned", f"order:{order.id}:return", amount=D("500"))
    session.flush()
    return {"r": r, "w1": w1, "w2": w2, "wp": wp.id, "order": order.id, "admin": admin}


BREAKS = {
    "outstanding": ["UPDATE credit_accounts SET outstanding = outstanding + 100 WHERE retailer_id = :r"],
    # A ledger row slipped in behind the app: its balance is right, but the account never moved.
    "outstanding ": [
        "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, "
        "balance_after) VALUES ('DEBIT', 50, :r, 'raw', 'raw-1', 2550)"
    ],
    "latest-balance": [
        "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, "
        "balance_after) VALUES ('CREDIT', 50, :r, 'raw', 'raw-2', 2500)",
        "UPDATE credit_accounts SET outstanding = 2450 WHERE retailer_id = :r",
    ],
    "running-balance": [
        "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, "
        "balance_after) VALUES ('DEBIT', 50, :r, 'raw', 'raw-3', 9999)",
        "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, "
        "balance_after) VALUES ('DEBIT', 1, :r, 'raw', 'raw-4', 2551)",
        "UPDATE credit_accounts SET outstanding = 2551 WHERE retailer_id = :r",
    ],
    "wholesaler-outstanding": [
        "UPDATE retailer_wholesaler_credits SET outstanding = outstanding - 1 WHERE retailer_id = :r"
    ],
    "reserved-stock": ["UPDATE wholesaler_products SET reserved_stock = 5 WHERE id = :wp"],
    "two-winners": [
        "DROP INDEX uq_vendor_offers_order_id_won",
        "UPDATE vendor_offers SET status = 'WON' WHERE order_id = :order AND wholesaler_id = :w2",
    ],
    "winner-mismatch": ["UPDATE orders SET final_wholesaler_id = NULL, status = 'CANCELLED' WHERE id = :order"],
    "payment-entry": [
        "INSERT INTO retailer_payments (retailer_id, amount, method, recorded_by_admin_id) "
        "VALUES (:r, 300, 'CASH', :admin)"
    ],
}


def test_a_consistent_market_passes(session: Session) -> None:
    _world(session)
    assert run_checks(session) == []


@pytest.mark.parametrize("check", list(BREAKS))
def test_each_broken_invariant_is_caught(session: Session, check: str) -> None:
    ids = _world(session)
    assert run_checks(session) == []
    for sql in BREAKS[check]:
        session.execute(text(sql), ids)
    problems = run_checks(session)
    assert check.strip() in {p.check for p in problems}, problems
    assert all(str(p).startswith(f"[{p.check}] ") for p in problems)


def _thok_check(url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "THOK_DEV_MODE"}
    # The check needs no Redis; a harmless URL keeps the embedded one from starting.
    env.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:6379/9")
    return subprocess.run(
        [sys.executable, "-m", "thok", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_thok_check_command_exits_non_zero_and_names_the_problem(
    fresh_database: Database, fresh_database_url: str
) -> None:
    with fresh_database.unit_of_work() as uow:
        ids = _world(uow.session)
        uow.commit()
    ok = _thok_check(fresh_database_url)
    assert ok.returncode == 0, ok.stderr
    assert "all agree" in ok.stdout
    with fresh_database.engine.begin() as conn:
        conn.execute(text("UPDATE credit_accounts SET outstanding = 1 WHERE retailer_id = :r"), ids)
    bad = _thok_check(fresh_database_url)
    assert bad.returncode == 1
    assert (
        f"[outstanding] retailer {ids['r']}: credit_accounts.outstanding is NPR 1 but the ledger sums to "
        "NPR 2,500" in bad.stdout
    )
