"""The partitioned khata keeps every guarantee of the unpartitioned one, on every partition."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db.migrate import alembic_config, downgrade, upgrade
from db.partitions import add_months, ensure_partitions, month_start, nepal_today, partition_problems
from db.verify import verify
from domain.ledger import last_entries, post_debit
from domain.statements import statement_rows

RESTRICT, UNIQUE, CHECK = "23001", "23505", "23514"
INSERT = (
    "INSERT INTO {table} (entry_type, amount, retailer_id, description, idempotency_key, balance_after, created_at) "
    "VALUES ('DEBIT', :a, :r, 'x', :k, :a, :c) RETURNING id"
)


def _refused(session: Session, sql: str, params: dict[str, Any] | None = None) -> psycopg.Error:
    with pytest.raises(DBAPIError) as info, session.begin_nested():
        session.execute(text(sql), params or {})
    assert isinstance(info.value.orig, psycopg.Error)
    return info.value.orig


@pytest.fixture
def retailer(session: Session) -> int:
    return int(
        session.execute(
            text("INSERT INTO retailers (name, whatsapp_number) VALUES ('P', '+9779841000777') RETURNING id")
        ).scalar_one()
    )


def _where(session: Session, entry_id: int) -> str:
    return str(
        session.execute(
            text("SELECT tableoid::regclass::text FROM ledger_entries WHERE id = :i"), {"i": entry_id}
        ).scalar()
    )


def test_next_months_partition_refuses_update_delete_truncate_like_the_parent(session: Session, retailer: int) -> None:
    nxt = add_months(month_start(nepal_today()), 1)
    part = f"ledger_entries_{nxt:%Y_%m}"
    when = f"{nxt:%Y-%m}-10 12:00+05:45"
    e = session.execute(
        text(INSERT.format(table="ledger_entries")), {"a": 100, "r": retailer, "k": "n1", "c": when}
    ).scalar_one()
    assert _where(session, e) == part
    for target in (part, "ledger_entries"):
        for sql in (
            f"UPDATE {target} SET amount = 1 WHERE id = :i",
            f"DELETE FROM {target} WHERE id = :i",
            f"TRUNCATE {target}",
            f"TRUNCATE {target} CASCADE",
        ):
            err = _refused(session, sql, {"i": e})
            assert err.sqlstate == RESTRICT and "append-only" in str(err), sql
    # Written straight into the partition: the CHECK and the global idempotency key still hold.
    # (with an explicit id: before PostgreSQL 17 a partition does not inherit the parent's identity)
    direct = (
        "INSERT INTO {table} (id, entry_type, amount, retailer_id, description, idempotency_key, balance_after, "
        "created_at) VALUES (nextval(pg_get_serial_sequence('ledger_entries', 'id')), 'DEBIT', :a, :r, 'x', :k, :a, :c)"
    )
    err = _refused(session, direct.format(table=part), {"a": 0, "r": retailer, "k": "n2", "c": when})
    assert err.sqlstate == CHECK and err.diag.constraint_name == "ck_ledger_entries_amount_positive"
    this_month = f"{month_start(nepal_today()):%Y-%m}-02 12:00+05:45"
    err = _refused(session, INSERT.format(table="ledger_entries"), {"a": 5, "r": retailer, "k": "n1", "c": this_month})
    assert err.sqlstate == UNIQUE and err.diag.constraint_name == "uq_ledger_entries_idempotency_key"
    assert session.execute(text("SELECT count(*) FROM ledger_entries")).scalar() == 1


def test_partitions_made_by_the_job_carry_every_trigger_and_index(session: Session, retailer: int) -> None:
    conn = session.connection()
    far = add_months(month_start(nepal_today()), 6)
    created = ensure_partitions(conn, months_ahead=6)
    assert f"ledger_entries_{far:%Y_%m}" in created
    assert ensure_partitions(conn, months_ahead=6) == []  # idempotent
    assert partition_problems(conn) == []
    part = f"ledger_entries_{far:%Y_%m}"
    e = session.execute(
        text(INSERT.format(table="ledger_entries")), {"a": 7, "r": retailer, "k": "far", "c": f"{far:%Y-%m}-03"}
    ).scalar_one()
    assert _where(session, e) == part
    for sql in (f"TRUNCATE {part}", f"DELETE FROM {part}", f"UPDATE {part} SET description = 'y'"):
        assert _refused(session, sql).sqlstate == RESTRICT
    plan = "\n".join(
        session.execute(
            text(f"EXPLAIN SELECT id FROM ledger_entries WHERE retailer_id = :r AND created_at >= '{far:%Y-%m}-05'"),
            {"r": retailer},
        ).scalars()
    )
    assert part in plan and "default" not in plan.split(part)[0]  # pruned to the month(s) asked for


def test_a_write_beyond_the_partitions_lands_in_default_and_moves_to_its_month(session: Session, retailer: int) -> None:
    conn = session.connection()
    far = add_months(month_start(nepal_today()), 20)
    e = session.execute(
        text(INSERT.format(table="ledger_entries")), {"a": 9, "r": retailer, "k": "far-away", "c": f"{far:%Y-%m}-15"}
    ).scalar_one()
    assert _where(session, e) == "ledger_entries_default"
    assert any("ledger_entries_default holds 1 rows" in p for p in partition_problems(conn))
    assert f"ledger_entries_{far:%Y_%m}" in ensure_partitions(conn)
    assert _where(session, e) == f"ledger_entries_{far:%Y_%m}"
    assert partition_problems(conn) == []
    # Relocated, it is still itself: same key, still append-only, still unique.
    err = _refused(
        session, INSERT.format(table="ledger_entries"), {"a": 9, "r": retailer, "k": "far-away", "c": "now()"}
    )
    assert err.diag.constraint_name == "uq_ledger_entries_idempotency_key"
    assert _refused(session, f"TRUNCATE ledger_entries_{far:%Y_%m}").sqlstate == RESTRICT
    assert _refused(session, "TRUNCATE ledger_entries_default").sqlstate == RESTRICT


def test_verify_reports_a_missing_future_partition_and_a_missing_trigger(session: Session) -> None:
    assert verify(session.connection()).ok
    nxt = f"ledger_entries_{add_months(month_start(nepal_today()), 1):%Y_%m}"
    session.execute(text(f"DROP TABLE {nxt}"))
    session.execute(text("DROP TRIGGER trg_ledger_entries_no_truncate ON ledger_entries_default"))
    missing = verify(session.connection()).missing
    assert f"ledger_entries: partition {nxt} is missing (run `thok db partitions ensure`)" in missing
    assert "ledger_entries_default: trigger trg_ledger_entries_no_truncate is missing" in missing


def test_the_worker_clock_queues_the_partition_job(settings, redis) -> None:  # type: ignore[no-untyped-def]
    from rq import Queue

    from workers.runner import enqueue_sweep

    enqueue_sweep(settings, now=7200.0)
    enqueue_sweep(settings, now=7300.0)  # same hour: not queued twice
    jobs = [j for j in Queue("default", connection=redis).get_jobs() if j.func_name.endswith("ensure_partitions_job")]
    assert [j.id for j in jobs] == ["ledger-partitions-2"]


def test_migration_moves_rows_keeps_ids_and_downgrades_with_the_data(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, "0002")
    with psycopg.connect(url, autocommit=True) as c:
        r = c.execute("INSERT INTO retailers (name, whatsapp_number) VALUES ('M', '+9779841000555') RETURNING id")
        rid = r.fetchone()[0]  # type: ignore[index]
        for i, when in enumerate(["2024-03-05", "2025-07-31 23:00+05:45", "2026-11-20"]):
            c.execute(
                "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, "
                "balance_after, created_at) VALUES ('DEBIT', 10, %s, 'x', %s, %s, %s)",
                (rid, f"k{i}", 10 * (i + 1), when),
            )
    upgrade(url)
    command.check(alembic_config(url))  # models and DDL agree (partitions excluded, see env.py)
    with psycopg.connect(url, autocommit=True) as c:
        parts = dict(c.execute("SELECT idempotency_key, tableoid::regclass::text FROM ledger_entries").fetchall())
        assert parts == {"k0": "ledger_entries_2024_03", "k1": "ledger_entries_2025_07", "k2": "ledger_entries_2026_11"}
        new_id = c.execute(
            "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, balance_after)"
            " VALUES ('DEBIT', 5, %s, 'y', 'k3', 35) RETURNING id",
            (rid,),
        ).fetchone()[0]  # type: ignore[index]
        assert new_id == 4  # the identity continues
        with pytest.raises(psycopg.errors.UniqueViolation):
            c.execute(
                "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, "
                "balance_after) VALUES ('DEBIT', 5, %s, 'y', 'k0', 35)",
                (rid,),
            )
        assert verify_ok(url)
    downgrade(url, "0002")
    with psycopg.connect(url, autocommit=True) as c:
        assert c.execute("SELECT count(*), sum(amount), max(id) FROM ledger_entries").fetchone() == (
            4,
            Decimal("35.00"),
            4,
        )
        assert c.execute("SELECT relkind FROM pg_class WHERE oid = 'ledger_entries'::regclass").fetchone() == ("r",)
        with pytest.raises(psycopg.errors.RestrictViolation):
            c.execute("TRUNCATE ledger_entries")
    upgrade(url)
    command.check(alembic_config(url))


def verify_ok(url: str) -> bool:
    from db.session import Database

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            report = verify(conn)
        assert report.missing == [], report.missing
        return True
    finally:
        db.dispose()


def test_month_helpers() -> None:
    assert add_months(date(2026, 11, 1), 3) == date(2027, 2, 1)
    assert add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)


def test_newest_first_reads_reach_past_the_recent_year(session: Session, retailer: int) -> None:
    """last_entries and a statement's opening balance look at the last year first; a retailer
    quiet for longer still gets the older entries, in posting order."""
    session.execute(
        text("INSERT INTO credit_accounts (retailer_id, credit_limit, outstanding) VALUES (:r, 100000, 300)"),
        {"r": retailer},
    )
    old = datetime.now(UTC) - timedelta(days=500)
    for k, (amount, balance) in enumerate([(100, 100), (200, 300)]):
        session.execute(
            text(
                "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, "
                "balance_after, created_at) VALUES ('DEBIT', :a, :r, 'old', :k, :b, :c)"
            ),
            {"a": amount, "r": retailer, "k": f"old:{k}", "b": balance, "c": old + timedelta(days=k)},
        )
    assert [e.amount for e in last_entries(session, retailer, 5)] == [200, 100]  # only older than a year
    post_debit(session, retailer_id=retailer, amount=Decimal(50), idempotency_key="new", description="new")
    assert [e.amount for e in last_entries(session, retailer, 5)] == [50, 200, 100]
    assert [e.amount for e in last_entries(session, retailer, 2)] == [50, 200]
    today = nepal_today()
    rows = statement_rows(session, retailer, today - timedelta(days=30), today)  # opening from its first entry
    assert [r.balance for r in rows] == [Decimal(300), Decimal(350)]
    quiet = statement_rows(session, retailer, today - timedelta(days=100), today - timedelta(days=90))
    assert [r.balance for r in quiet] == [Decimal(300)]  # no entries: the last one before, 500 days back
