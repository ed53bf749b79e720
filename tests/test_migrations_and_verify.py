"""The migration builds and removes the whole schema; `thok db verify` notices what is missing."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from db.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade
from db.models import Base
from db.session import Database
from db.verify import verify
from tests.conftest import ROOT


def _catalog(url: str) -> tuple[set[str], set[str], set[str]]:
    with psycopg.connect(url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        types = {r[0] for r in conn.execute("SELECT typname FROM pg_type WHERE typtype = 'e'")}
        funcs = {
            r[0]
            for r in conn.execute("SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace")
        }
    return tables, types, funcs


def test_upgrade_from_empty_and_downgrade_to_base(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    assert current_revision(empty_database_url) == head_revision()
    tables, types, funcs = _catalog(empty_database_url)
    assert set(Base.metadata.tables) <= tables
    assert {"order_status", "ledger_entry_type", "offer_status"} <= types
    assert {"ledger_entries_append_only", "orders_winner_set_once"} <= funcs

    downgrade(empty_database_url, "base")
    assert current_revision(empty_database_url) is None
    tables, types, funcs = _catalog(empty_database_url)
    assert tables == {"alembic_version"}
    assert types == set()
    assert funcs == set()

    upgrade(empty_database_url)  # and back up again, cleanly
    assert current_revision(empty_database_url) == head_revision()


def test_models_and_migration_agree(database_url: str) -> None:
    """autogenerate finds nothing to add: the reviewed migration is the models' DDL."""
    command.check(alembic_config(database_url))


def test_verify_passes_on_a_fresh_database(session: Session) -> None:
    report = verify(session.connection())
    assert report.ok, report.missing
    assert any("trigger trg_ledger_entries_no_truncate" in line for line in report.lines)
    assert any("ck_wholesaler_products_stock_non_negative" in line for line in report.lines)


def test_verify_reports_a_dropped_trigger_and_constraint(session: Session) -> None:
    # DDL is transactional in PostgreSQL: the session's rollback restores both.
    session.execute(text("DROP TRIGGER trg_ledger_entries_no_delete ON ledger_entries"))
    session.execute(
        text("ALTER TABLE credit_accounts DROP CONSTRAINT ck_credit_accounts_credit_limit_non_negative")
    )
    report = verify(session.connection())
    assert not report.ok
    assert "ledger_entries: trigger trg_ledger_entries_no_delete is missing" in report.missing
    assert any("ck_credit_accounts_credit_limit_non_negative" in m for m in report.missing)


@pytest.mark.parametrize(
    ("table", "trigger"),
    [
        ("credit_accounts", "trg_credit_accounts_balance_starts_at_zero"),
        ("retailer_wholesaler_credits", "trg_retailer_wholesaler_credits_balance_starts_at_zero"),
        ("retailers", "retailers_phone_claim"),
        ("wholesalers", "wholesalers_phone_claim"),
    ],
)
def test_verify_reports_a_dropped_khata_or_phone_guard(session: Session, table: str, trigger: str) -> None:
    """The guards of migrations 0006 (balances start at zero) and 0009 (one live party per number)
    are checked like the ledger's own: dropping one is reported by name."""
    session.execute(text(f"DROP TRIGGER {trigger} ON {table}"))
    assert verify(session.connection()).missing == [f"{table}: trigger {trigger} is missing"]


def test_verify_reports_a_missing_khata_function(session: Session) -> None:
    session.execute(text("DROP FUNCTION ledger_newest"))
    report = verify(session.connection())
    assert report.missing == ["function ledger_newest() is missing"]


def test_verify_reports_a_foreign_key_without_index(session: Session) -> None:
    session.execute(text("DROP INDEX ix_vendor_offers_wholesaler_id_created_at"))
    report = verify(session.connection())
    assert (
        "foreign key without an index: vendor_offers.fk_vendor_offers_wholesaler_id_wholesalers"
        in report.missing
    )


def _thok(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:1/0"}
    return subprocess.run(
        [sys.executable, "-m", "thok", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_thok_db_verify_exit_codes(fresh_database_url: str) -> None:
    ok = _thok("db", "verify", database_url=fresh_database_url)
    assert ok.returncode == 0, ok.stderr
    assert "constraint ck_wholesaler_products_reserved_within_stock" in ok.stdout
    assert "verify: all expected" in ok.stdout

    db = Database(fresh_database_url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER trg_ledger_entries_no_truncate ON ledger_entries"))
    db.dispose()
    broken = _thok("db", "verify", "--quiet", database_url=fresh_database_url)
    assert broken.returncode == 1
    assert "MISSING ledger_entries: trigger trg_ledger_entries_no_truncate is missing" in broken.stderr


def test_thok_db_downgrade_and_upgrade_commands(empty_database_url: str) -> None:
    up = _thok("db", "upgrade", database_url=empty_database_url)
    assert up.returncode == 0, up.stderr
    assert f"database at revision {head_revision()}" in up.stdout
    down = _thok("db", "downgrade", "base", database_url=empty_database_url)
    assert down.returncode == 0, down.stderr
    assert "database at revision base" in down.stdout
