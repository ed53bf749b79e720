"""Credit limits and holds: the domain refuses clearly, and PostgreSQL refuses what slips past."""

from __future__ import annotations

import threading
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.migrate import downgrade, upgrade
from db.session import Database
from domain.credit import (
    account_balance,
    hold_credit,
    release_hold,
    set_credit_limit,
    set_wholesaler_credit_limit,
    wholesaler_balance,
)
from domain.errors import CreditLimitExceeded, InvalidInput
from domain.ledger import post_debit
from domain.parties import register_retailer, register_wholesaler

D = Decimal


def _retailer(session: Session, limit: str, phone: str = "9841000201") -> int:
    return register_retailer(session, name="Krishna", phone=phone, credit_limit=D(limit)).id


def _wholesaler(session: Session, phone: str = "9851000201") -> int:
    return register_wholesaler(session, name="Ram", phone=phone, business_name="Shrestha Traders").id


def test_hold_reduces_available_and_release_gives_it_back(session: Session) -> None:
    r = _retailer(session, "10000")
    session.flush()
    assert hold_credit(session, r, D("4000"), order_id=None) == D("6000")
    assert account_balance(session, r).held == D("4000")
    assert account_balance(session, r).available == D("6000")
    release_hold(session, r, D("4000"), order_id=None)
    assert account_balance(session, r).available == D("10000")


def test_hold_beyond_limit_is_refused_with_amount_and_available(session: Session) -> None:
    r = _retailer(session, "6650")
    session.flush()
    post_debit(session, retailer_id=r, amount=D("5400"), idempotency_key="k-1", description="order")
    with pytest.raises(CreditLimitExceeded) as exc:
        hold_credit(session, r, D("5400"), order_id=None)
    assert exc.value.available == D("1250") and exc.value.amount == D("5400")
    assert str(exc.value).startswith("Credit limit reached: available NPR 1,250, order NPR 5,400")
    assert account_balance(session, r).held == 0


def test_releasing_more_than_held_is_refused(session: Session) -> None:
    r = _retailer(session, "1000")
    session.flush()
    hold_credit(session, r, D("300"), order_id=1)
    with pytest.raises(InvalidInput, match="only NPR 300 is held"):
        release_hold(session, r, D("400"), order_id=1)
    assert account_balance(session, r).held == D("300")


def test_database_check_refuses_outstanding_plus_held_over_limit(session: Session) -> None:
    r = _retailer(session, "1000")
    session.flush()
    session.execute(text("UPDATE credit_accounts SET outstanding = 600 WHERE retailer_id = :r"), {"r": r})
    with pytest.raises(IntegrityError, match="outstanding_held_within_limit"), session.begin_nested():
        session.execute(text("UPDATE credit_accounts SET held = 401 WHERE retailer_id = :r"), {"r": r})
    with pytest.raises(IntegrityError, match="outstanding_held_within_limit"), session.begin_nested():
        session.execute(text("UPDATE credit_accounts SET held = -1 WHERE retailer_id = :r"), {"r": r})


def test_per_wholesaler_limit_refuses_and_undoes_the_account_hold(session: Session) -> None:
    r, w, other = _retailer(session, "10000"), _wholesaler(session), _wholesaler(session, "9851000202")
    session.flush()
    set_wholesaler_credit_limit(session, r, w, D("2000"))
    with pytest.raises(CreditLimitExceeded, match="Credit limit with Shrestha Traders reached: available NPR 2,000"):
        hold_credit(session, r, D("2500"), order_id=None, wholesaler_id=w)
    assert account_balance(session, r).held == 0  # the overall hold was taken back
    with pytest.raises(CreditLimitExceeded):
        hold_credit(session, r, D("2000.01"), order_id=None, wholesaler_id=w)
    per = wholesaler_balance(session, r, w)
    assert per is not None and per.available == D("2000")
    assert wholesaler_balance(session, r, other) is None  # no row: no per-wholesaler limit
    assert hold_credit(session, r, D("9000"), order_id=None, wholesaler_id=other) == D("1000")
    release_hold(session, r, D("9000"), order_id=None, wholesaler_id=other)
    hold_credit(session, r, D("1500"), order_id=None, wholesaler_id=w)
    per = wholesaler_balance(session, r, w)
    assert per is not None and per.available == D("500")
    assert account_balance(session, r).available == D("8500")


def test_new_wholesaler_limit_starts_from_what_the_ledger_says(session: Session) -> None:
    r, w = _retailer(session, "10000"), _wholesaler(session)
    session.flush()
    post_debit(session, retailer_id=r, amount=D("700"), idempotency_key="k-w", description="o", wholesaler_id=w)
    with pytest.raises(InvalidInput, match="below the NPR 700 already owed"):
        set_wholesaler_credit_limit(session, r, w, D("500"))
    assert set_wholesaler_credit_limit(session, r, w, D("1000")).outstanding == D("700")


def test_credit_limit_cannot_go_below_what_is_owed(session: Session) -> None:
    r = _retailer(session, "5000")
    session.flush()
    post_debit(session, retailer_id=r, amount=D("3000"), idempotency_key="k-2", description="order")
    hold_credit(session, r, D("1000"), order_id=None)
    with pytest.raises(InvalidInput, match="below the NPR 4,000 already owed and held"):
        set_credit_limit(session, r, D("3999"))
    assert set_credit_limit(session, r, D("4000")).available == 0


def test_racing_holds_for_the_last_credit_only_the_fitting_ones_win(fresh_database: Database) -> None:
    with fresh_database.unit_of_work() as uow:
        r = _retailer(uow.session, "10000")
        uow.commit()
    threads, barrier = 8, threading.Barrier(8)
    won: list[Decimal] = []
    refused: list[CreditLimitExceeded] = []
    lock = threading.Lock()

    def confirm(i: int) -> None:
        with fresh_database.unit_of_work() as uow:
            barrier.wait()
            try:
                hold_credit(uow.session, r, D("3000"), order_id=i)
                uow.commit()
                with lock:
                    won.append(D("3000"))
            except CreditLimitExceeded as exc:
                with lock:
                    refused.append(exc)

    workers = [threading.Thread(target=confirm, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert len(won) == 3 and len(refused) == 5
    assert all(e.available == D("1000") for e in refused)
    with fresh_database.session() as s:
        assert account_balance(s, r).held == D("9000")


def test_migration_0002_downgrades_and_upgrades(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    downgrade(empty_database_url, "0001")
    with psycopg.connect(empty_database_url) as conn:
        cols = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'credit_accounts'"
            )
        }
        assert "held" not in cols
    upgrade(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        checks = {r[0] for r in conn.execute("SELECT conname FROM pg_constraint WHERE contype = 'c'")}
    assert "ck_credit_accounts_outstanding_held_within_limit" in checks
    assert "ck_retailer_wholesaler_credits_outstanding_held_within_limit" in checks
    assert "ck_credit_accounts_outstanding_within_limit" not in checks
