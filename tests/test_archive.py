"""`thok archive`: whole old months leave the hot tables, balances and statements stay right,
the archive is immutable, a rerun changes nothing and a killed run loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from db.session import Database
from domain.archive import archive
from domain.integrity import run_checks
from domain.ledger import balance, post_debit
from domain.statements import statement_rows
from tests.conftest import ROOT

D = Decimal
ENTRY = (
    "INSERT INTO ledger_entries (entry_type, amount, retailer_id, wholesaler_id, order_id, description, "
    "idempotency_key, balance_after, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def _old_books(url: str) -> dict[str, int]:
    """A retailer whose khata starts in March 2024, with orders from then, and one entry today."""
    with psycopg.connect(url, autocommit=True) as c:
        one = lambda sql, *a: c.execute(sql, a).fetchone()[0]  # type: ignore[index]  # noqa: E731
        r = one("INSERT INTO retailers (name, whatsapp_number) VALUES ('Old', '+9779841000711') RETURNING id")
        w = one("INSERT INTO wholesalers (name, whatsapp_number) VALUES ('W', '+9779851000711') RETURNING id")
        p = one("INSERT INTO products (sku, name, unit) VALUES ('RICE-ARC', 'Rice', 'kg') RETURNING id")
        c.execute("INSERT INTO credit_accounts (retailer_id, credit_limit, outstanding) VALUES (%s, 100000, 600)", (r,))
        c.execute(
            "INSERT INTO retailer_wholesaler_credits (retailer_id, wholesaler_id, credit_limit, outstanding) "
            "VALUES (%s, %s, 5000, 1000)",
            (r, w),
        )
        delivered = one(
            "INSERT INTO orders (ref, retailer_id, final_wholesaler_id, status, final_total, created_at, delivered_at)"
            " VALUES ('TK-ARC1', %s, %s, 'DELIVERED', 1000, '2024-03-10 10:00+05:45', '2024-03-12') RETURNING id",
            r,
            w,
        )
        c.execute(
            "INSERT INTO order_items (order_id, product_id, quantity, unit) VALUES (%s, %s, 10, 'kg')", (delivered, p)
        )
        c.execute(
            "INSERT INTO vendor_offers (order_id, wholesaler_id, status, total_price) VALUES (%s, %s, 'WON', 1000)",
            (delivered, w),
        )
        cancelled = one(
            "INSERT INTO orders (ref, retailer_id, status, created_at) "
            "VALUES ('TK-ARC2', %s, 'CANCELLED', '2024-04-02') RETURNING id",
            r,
        )
        still_open = one(
            "INSERT INTO orders (ref, retailer_id, status, created_at) "
            "VALUES ('TK-ARC3', %s, 'PENDING_OFFERS', '2024-04-03') RETURNING id",
            r,
        )
        c.execute(ENTRY, ("DEBIT", 1000, r, w, delivered, "TK-ARC1", "o:1", 1000, "2024-03-12 09:00+05:45"))
        c.execute(ENTRY, ("CREDIT", 400, r, None, None, "Payment (Cash)", "p:1", 600, "2024-04-20 09:00+05:45"))
    return {"r": r, "w": w, "delivered": delivered, "cancelled": cancelled, "open": still_open}


def _count(url: str, sql: str) -> object:
    with psycopg.connect(url) as c:
        return c.execute(sql).fetchone()[0]  # type: ignore[index]


def test_archive_moves_old_months_and_keeps_balances_statements_and_immutability(
    fresh_database: Database, fresh_database_url: str
) -> None:
    ids = _old_books(fresh_database_url)
    with fresh_database.unit_of_work() as uow:
        post_debit(uow.session, retailer_id=ids["r"], amount=D("250"), idempotency_key="now:1", description="today")
        uow.commit()
    with fresh_database.session() as s:
        assert run_checks(s) == []

    result = archive(fresh_database.engine, before=date(2024, 11, 1))
    assert result.ledger_months == [date(2024, 3, 1), date(2024, 4, 1)] and result.ledger_rows == 2
    assert result.orders == 2  # delivered and cancelled; the open one stays
    url = fresh_database_url
    assert _count(url, "SELECT count(*) FROM ledger_entries") == 1
    assert _count(url, "SELECT count(*) FROM archive.ledger_entries") == 2
    assert _count(url, "SELECT string_agg(ref, ',' ORDER BY ref) FROM orders") == "TK-ARC3"
    assert _count(url, "SELECT count(*) FROM archive.order_items") == 1
    assert _count(url, "SELECT count(*) FROM archive.vendor_offers") == 1
    assert (
        _count(
            url,
            "SELECT row_count || ':' || debit_sum || ':' || credit_sum FROM archive.manifest "
            "WHERE kind = 'ledger' AND period = '2024-04-01'",
        )
        == "1:0.00:400.00"
    )

    with fresh_database.session() as s:
        assert run_checks(s) == []  # sums, running balances, payments: checkpoints carry the archive
        assert balance(s, ids["r"]).outstanding == D("850")
        old = statement_rows(s, ids["r"], date(2024, 3, 1), date(2024, 4, 30))
        assert [(x.entry_type, x.order_ref, x.balance) for x in old] == [
            ("OPENING", None, D("0")),
            ("DEBIT", "TK-ARC1", D("1000")),
            ("CREDIT", None, D("600")),
        ]
        recent = statement_rows(s, ids["r"], date(2025, 1, 1), date(2099, 1, 1))
        assert [(x.entry_type, x.balance) for x in recent] == [("OPENING", D("600")), ("DEBIT", D("850"))]

    with psycopg.connect(url, autocommit=True) as c:
        for sql in (
            "UPDATE archive.ledger_entries SET amount = 1",
            "DELETE FROM archive.ledger_entries_2024_03",
            "TRUNCATE archive.ledger_entries_2024_03",
            "TRUNCATE archive.ledger_entries",
            "INSERT INTO archive.ledger_entries SELECT * FROM archive.ledger_entries_2024_03",
            "UPDATE archive.orders SET status = 'CONFIRMED'",
            "DELETE FROM archive.order_items",
            "TRUNCATE archive.orders",
            "DELETE FROM archive.manifest",
            "UPDATE ledger_checkpoints SET net = 0",
            "TRUNCATE ledger_checkpoints",
            "DELETE FROM ledger_idempotency_keys",
        ):
            with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
                c.execute(sql)
        # The archived event's key is still taken: replaying it cannot book it twice.
        with pytest.raises(psycopg.errors.UniqueViolation):
            c.execute(ENTRY, ("DEBIT", 1000, ids["r"], None, None, "again", "o:1", 1850, "now()"))

    again = archive(fresh_database.engine, before=date(2024, 11, 1))
    assert again.ledger_months == [] and again.orders == 0
    assert _count(url, "SELECT count(*) FROM archive.ledger_entries") == 2
    assert _count(url, "SELECT count(*) FROM ledger_checkpoints") == 3  # 2 months total + 1 per wholesaler


def test_a_killed_archive_loses_nothing_and_a_rerun_finishes(fresh_database: Database, fresh_database_url: str) -> None:
    ids = _old_books(fresh_database_url)
    url = fresh_database_url
    from db.partitions import ensure_partitions

    with fresh_database.engine.begin() as conn:
        ensure_partitions(conn)  # March and April 2024 get their partitions
    with psycopg.connect(url) as blocker:
        # Hold April: the run archives March, then waits for April inside its transaction.
        blocker.execute("LOCK TABLE ledger_entries_2024_04 IN ROW EXCLUSIVE MODE")
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:6379/9"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "thok", "archive", "--before", "2024-11-01"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        with psycopg.connect(url, autocommit=True) as watch:
            for _ in range(300):
                waiting = watch.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'ledger_entries_2024_04'::regclass"
                ).fetchone()[0]  # type: ignore[index]
                if waiting:
                    break
                time.sleep(0.05)
            assert waiting, proc.communicate(timeout=5)[0]
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            blocker.rollback()
            for _ in range(100):  # the orphaned backend ends once it finds its client gone
                if not watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                    " AND state <> 'idle' AND query LIKE 'LOCK TABLE public.ledger_entries_2024_04%%'"
                ).fetchone()[0]:  # type: ignore[index]
                    break
                time.sleep(0.05)
    assert _count(url, "SELECT string_agg(period::text, ',') FROM archive.manifest") == "2024-03-01"
    assert _count(url, "SELECT count(*) FROM ledger_entries_2024_04") == 1  # April untouched, still hot
    with fresh_database.session() as s:
        assert run_checks(s) == []
    result = archive(fresh_database.engine, before=date(2024, 11, 1))
    assert result.ledger_months == [date(2024, 4, 1)]
    assert _count(url, "SELECT count(*) FROM archive.ledger_entries") == 2
    with fresh_database.session() as s:
        assert run_checks(s) == []
        assert [x.balance for x in statement_rows(s, ids["r"], date(2024, 1, 1), date(2024, 12, 31))] == [
            D("0"),
            D("1000"),
            D("600"),
        ]
