# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""Web and worker run as a runtime role that cannot make the database forget: what protects the
ledger belongs to the owner, entries go in only through ledger_post(), and the whole trade still
works under that role."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import create_engine, pool, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from bot.app import create_app
from db.models import EntryType, LedgerEntry, Order, OrderStatus, Wholesaler
from db.partitions import add_months, ensure_partitions, month_start, nepal_today, partition_name
from db.roles import RoleError, grant_runtime, runtime_role_problems
from db.session import Database
from db.verify import verify
from domain import stats
from domain.archive import archive
from domain.credit import account_balance, hold_credit, release_hold, set_credit_limit
from domain.ledger import last_entries, post_debit
from domain.statements import statement_rows
from tests.conftest import ROOT
from tests.fake_twilio import PUBLIC, fake_twilio, run_worker, signed_headers, thok_settings, twilio_form  # noqa: F401
from tests.test_archive import _old_books
from thok.config import to_psycopg_url
from thok.runtime import redis_for
from thok.seed import seed_demo
from workers import context

D = Decimal
PATH = "/webhooks/twilio/whatsapp"
_roles = itertools.count(1)
_sids = itertools.count(1)


def as_role(url: str, role: str) -> str:
    """The same server and database, logged in as `role` (the test servers trust local logins)."""
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


def grant(url: str, role: str) -> None:
    engine = create_engine(to_psycopg_url(url), poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            grant_runtime(conn, role)
    finally:
        engine.dispose()


@pytest.fixture
def runtime_role(fresh_database_url: str) -> Iterator[str]:
    """A login role of this test alone (roles are cluster-wide: the pid keeps concurrent runs apart),
    given the runtime rights on the test's database; dropped afterwards."""
    role = f"thok_rt_{os.getpid()}_{next(_roles)}"
    with psycopg.connect(fresh_database_url, autocommit=True) as c:
        c.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        grant(fresh_database_url, role)
        yield role
    finally:
        with psycopg.connect(fresh_database_url, autocommit=True) as c:
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s AND pid <> pg_backend_pid()",
                (role,),
            )
            c.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            c.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def runtime_url(fresh_database_url: str, runtime_role: str) -> str:
    return as_role(fresh_database_url, runtime_role)


@pytest.fixture
def books(fresh_database: Database) -> dict[str, int]:
    """A retailer with a per-wholesaler limit and one DEBIT, booked by the owner."""
    from domain.credit import set_wholesaler_credit_limit
    from tests import factories as f

    with fresh_database.unit_of_work() as uow:
        shop = f.retailer(uow.session, limit=50_000)
        ws = f.wholesaler(uow.session)
        set_wholesaler_credit_limit(uow.session, shop.id, ws.id, D(20_000))
        post_debit(
            uow.session,
            retailer_id=shop.id,
            wholesaler_id=ws.id,
            amount=D(1_000),
            idempotency_key="test:debit:1",
            description="TK-TEST",
        )
        uow.commit()
        return {"retailer": shop.id, "wholesaler": ws.id}


def _this_month() -> str:
    return partition_name(month_start(nepal_today()))


# Each is something the process facing the internet must not be able to do. The owner could (all
# but the DELETE, which the append-only trigger refuses even to the owner): the statements are
# valid, so only the role's missing rights refuse them.
FORGET = [
    # Skips every trigger of the session; superuser-only (the tests' owner is a superuser).
    ("session_replication_role", "SET session_replication_role = replica", True),
    ("DISABLE TRIGGER", "ALTER TABLE ledger_entries DISABLE TRIGGER trg_ledger_entries_no_delete", True),
    ("DROP TRIGGER", "DROP TRIGGER trg_ledger_entries_no_update ON ledger_entries", True),
    (
        "replace the append-only function",
        "CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN OLD; END $$",
        True,
    ),
    ("DETACH PARTITION", "ALTER TABLE ledger_entries DETACH PARTITION {month}", True),
    ("DELETE from a partition", "DELETE FROM {month}", False),
    ("TRUNCATE", "TRUNCATE ledger_entries", False),
    ("DROP TABLE", "DROP TABLE ledger_entries CASCADE", True),
    (
        "INSERT bypassing ledger_post",
        "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, "
        "balance_after) VALUES ('CREDIT', 1000, {retailer}, 'forged', 'forged:1', 0)",
        True,
    ),
    (
        "INSERT an idempotency key",
        "INSERT INTO ledger_idempotency_keys VALUES ('forged:2', 1, now(), NULL)",
        True,
    ),
    ("UPDATE credit_accounts.outstanding", "UPDATE credit_accounts SET outstanding = 0", True),
    (
        "UPDATE retailer_wholesaler_credits.outstanding",
        "UPDATE retailer_wholesaler_credits SET outstanding = 0",
        True,
    ),
    ("UPDATE credit_accounts.advance", "UPDATE credit_accounts SET advance = 0", True),
    ("DELETE a credit account", "DELETE FROM retailer_wholesaler_credits", True),
    (
        "replace ledger_post",
        "ALTER FUNCTION ledger_post SECURITY INVOKER",
        True,
    ),
    ("drop the partition maker", "DROP FUNCTION ledger_ensure_partition(date)", True),
    ("CREATE in public", "CREATE TABLE public.shadow (id int)", True),
    ("CREATE TRIGGER", "CREATE TRIGGER t AFTER INSERT ON orders EXECUTE FUNCTION ledger_entries_append_only()", True),
]


@pytest.mark.parametrize(("what", "statement", "owner_can"), FORGET, ids=[f[0] for f in FORGET])
def test_the_runtime_role_cannot_make_the_ledger_forget(
    what: str,
    statement: str,
    owner_can: bool,
    fresh_database_url: str,
    runtime_url: str,
    books: dict[str, int],
) -> None:
    stmt = statement.format(month=_this_month(), retailer=books["retailer"])
    with psycopg.connect(runtime_url) as c, pytest.raises(psycopg.errors.InsufficientPrivilege):
        c.execute(stmt)
    # The control: the owner's same statement goes through (rolled back), so it is the role that
    # refuses, not a typo; the DELETE and TRUNCATE meet the append-only trigger even as the owner.
    with psycopg.connect(fresh_database_url) as c:
        if owner_can:
            c.execute(stmt)
        else:
            with pytest.raises(psycopg.errors.RestrictViolation):
                c.execute(stmt)
        c.rollback()
        entries = c.execute("SELECT count(*), sum(amount) FROM ledger_entries").fetchone()
        assert entries == (1, D(1000))


def test_the_runtime_role_posts_holds_and_reads_through_the_khata_functions(
    runtime_url: str, books: dict[str, int]
) -> None:
    r, w = books["retailer"], books["wholesaler"]
    db = Database(runtime_url)
    try:
        with db.unit_of_work() as uow:
            s = uow.session
            assert s.execute(text("SELECT current_user")).scalar() != "postgres"
            hold_credit(s, r, D(500), order_id=None, wholesaler_id=w)
            post_debit(
                s,
                retailer_id=r,
                wholesaler_id=w,
                amount=D(500),
                idempotency_key="test:debit:2",
                description="TK-RUN",
                release_held=D(500),
            )
            hold_credit(s, r, D(200), order_id=None, wholesaler_id=w)
            release_hold(s, r, D(200), order_id=None, wholesaler_id=w)
            set_credit_limit(s, r, D(60_000))
            uow.commit()
        with db.session() as s:
            balance = account_balance(s, r)
            assert (balance.credit_limit, balance.outstanding, balance.held) == (D(60_000), D(1_500), D(0))
            assert [e.amount for e in last_entries(s, r)] == [D(500), D(1_000)]  # ledger_newest()
            rows = statement_rows(s, r, date(2020, 1, 1), date(2099, 1, 1))
            assert [x.balance for x in rows][-1] == D(1_500)
    finally:
        db.dispose()


def test_admin_khata_work_runs_as_the_runtime_role(runtime_url: str, books: dict[str, int]) -> None:
    """What the dashboard does to parties and khatas: register, limits, a payment and its reversal."""
    from domain.credit import set_wholesaler_credit_limit
    from domain.khata_payments import record_payment
    from domain.parties import create_admin, register_retailer, soft_delete
    from usecases.actor import Actor
    from usecases.khata import reverse_payment

    r, w = books["retailer"], books["wholesaler"]
    db = Database(runtime_url)
    try:
        with db.unit_of_work() as uow:
            s = uow.session
            admin = create_admin(s, "rt-admin@thok.test", "a long enough password")
            other = register_retailer(s, name="New", phone="+9779841777001", district=None, credit_limit=D(5_000))
            set_credit_limit(s, other.id, D(7_000))
            set_wholesaler_credit_limit(s, r, w, D(30_000))
            payment, credit = record_payment(
                s,
                retailer_id=r,
                amount=D(400),
                method="esewa",
                reference="RT-1",
                recorded_by_admin_id=admin.id,
                wholesaler_id=w,
            )
            debit = reverse_payment(s, Actor.admin(admin.id, ip="127.0.0.1"), payment.id, "wrong shop").entry
            soft_delete(other)
            uow.commit()
        with db.session() as s:
            assert (credit.entry_type, debit.entry_type, debit.amount) == (EntryType.CREDIT, EntryType.DEBIT, D(400))
            assert account_balance(s, r).outstanding == D(1_000)  # paid 400, reversed 400
    finally:
        db.dispose()


def test_the_worker_makes_partitions_that_the_owner_owns(
    fresh_database_url: str, runtime_url: str, runtime_role: str
) -> None:
    far = add_months(month_start(nepal_today()), 8)
    engine = create_engine(to_psycopg_url(runtime_url), poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            created = ensure_partitions(conn, months_ahead=8)
        assert partition_name(far) in created
        with engine.connect() as conn, pytest.raises(ProgrammingError, match="must be owner"):
            conn.execute(text(f"DROP TABLE {partition_name(far)}"))
    finally:
        engine.dispose()
    with psycopg.connect(fresh_database_url) as c:
        owner = c.execute("SELECT relowner::regrole::text FROM pg_class WHERE relname = %s", (partition_name(far),))
        assert owner.fetchone() == ("postgres",) != (runtime_role,)


def test_an_owner_that_is_not_a_superuser_migrates_grants_and_keeps_the_ledger(pg_admin_url: str) -> None:
    """Production's shape: the owner is an ordinary role that owns the database (the tests' other
    databases are owned by a superuser, who passes every privilege check)."""
    from db.migrate import upgrade
    from domain.parties import register_retailer

    n = next(_roles)
    owner, role, name = f"thok_own_{os.getpid()}_{n}", f"thok_rt_{os.getpid()}_{n}", f"thok_b_owned_{os.getpid()}_{n}"
    with psycopg.connect(pg_admin_url, autocommit=True) as c:
        c.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(owner)))
        c.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        c.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))
    owner_url = as_role(make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False), owner)
    runtime_url = as_role(owner_url, role)
    db = None
    try:
        upgrade(owner_url)
        grant(owner_url, role)
        db = Database(runtime_url)
        with db.unit_of_work() as uow:
            shop = register_retailer(uow.session, name="S", phone="+9779841777002", district=None, credit_limit=D(900))
            post_debit(uow.session, retailer_id=shop.id, amount=D(300), idempotency_key="own:1", description="TK-OWN")
            created = ensure_partitions(uow.session.connection(), months_ahead=7)
            uow.commit()
        assert partition_name(add_months(month_start(nepal_today()), 7)) in created
        with psycopg.connect(owner_url) as c:
            parts = c.execute(
                "SELECT DISTINCT relowner::regrole::text FROM pg_class WHERE relname LIKE 'ledger_entries%'"
            ).fetchall()
            assert parts == [(owner,)]  # the partitions the role's job made are the owner's
            assert c.execute("SELECT has_schema_privilege(%s, 'public', 'CREATE')", (role,)).fetchone() == (False,)
        with psycopg.connect(runtime_url) as c:
            for stmt in (
                "ALTER TABLE ledger_entries DISABLE TRIGGER ALL",
                "SET session_replication_role = replica",
                "UPDATE credit_accounts SET outstanding = 0",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    c.execute(stmt)
                c.rollback()
    finally:
        if db is not None:
            db.dispose()
        with psycopg.connect(pg_admin_url, autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            for r in (role, owner):
                c.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(r)))


def test_stats_and_gauges_read_as_the_runtime_role(runtime_url: str, books: dict[str, int]) -> None:
    """`thok stats` and the refresh_gauges job read catalogs and pg_stats; the role sees enough."""
    engine = create_engine(to_psycopg_url(runtime_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            assert stats.soft_deleted(conn)["retailers"] == 0
            assert set(stats.orders_by_status(conn).values()) == {0}
            usage = {(i.table, i.index) for i in stats.index_usage(conn)}
            assert ("ledger_idempotency_keys", "uq_ledger_entries_idempotency_key") in usage
            assert ("ledger_entries", "pk_ledger_entries") in usage
    finally:
        engine.dispose()


def test_archived_months_stay_readable_by_the_runtime_role(
    fresh_database: Database, fresh_database_url: str, runtime_url: str
) -> None:
    ids = _old_books(fresh_database_url)
    # The owner archives after the grant: archive.orders and friends are new tables, readable
    # through the default privileges grant-runtime set for the owner's archive schema.
    archive(fresh_database.engine, before=date(2024, 11, 1))
    db = Database(runtime_url)
    try:
        with db.session() as s:
            old = statement_rows(s, ids["r"], date(2024, 3, 1), date(2024, 4, 30))
            assert [(x.entry_type, x.order_ref, x.balance) for x in old] == [
                ("OPENING", None, D("0")),
                ("DEBIT", "TK-ARC1", D("1000")),
                ("CREDIT", None, D("600")),
            ]
    finally:
        db.dispose()


def test_grant_runtime_is_idempotent_and_verify_reports_a_role_that_can_alter_the_ledger(
    fresh_database_url: str, runtime_role: str
) -> None:
    grant(fresh_database_url, runtime_role)  # the second time changes nothing
    engine = create_engine(to_psycopg_url(fresh_database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:  # each block is rolled back: nothing leaks into the next
            assert verify(conn, runtime_role=runtime_role).missing == []
            conn.rollback()
            conn.execute(text(f"GRANT INSERT ON ledger_entries TO {runtime_role}"))
            conn.execute(text(f"GRANT UPDATE ON credit_accounts TO {runtime_role}"))
            conn.execute(text(f"GRANT TRIGGER ON orders TO {runtime_role}"))
            conn.execute(text("ALTER FUNCTION ledger_post SECURITY INVOKER"))
            conn.execute(text("GRANT EXECUTE ON FUNCTION ledger_ensure_partition(date) TO PUBLIC"))
            report = verify(conn, runtime_role=runtime_role)
            assert f"runtime role {runtime_role} has INSERT on ledger_entries" in report.missing
            assert f"runtime role {runtime_role} has TRIGGER on orders" in report.missing
            balance = f"runtime role {runtime_role} may UPDATE credit_accounts.outstanding "
            assert any(m.startswith(balance) for m in report.missing)
            assert any("ledger_post" in m and "SECURITY DEFINER" in m for m in report.missing)
            assert "function ledger_ensure_partition(date) is executable by PUBLIC" in report.missing
            grant_runtime(conn, runtime_role)  # a rerun takes the stray rights back
            assert runtime_role_problems(conn, runtime_role) == []
            conn.rollback()

            conn.execute(text(f"ALTER TABLE ledger_checkpoints OWNER TO {runtime_role}"))
            assert f"runtime role {runtime_role} owns ledger_checkpoints (it could drop it or its triggers)" in (
                runtime_role_problems(conn, runtime_role)
            )
            conn.rollback()
            with pytest.raises(RoleError, match="is a superuser"):
                grant_runtime(conn, "postgres")
            with pytest.raises(RoleError, match="does not exist"):
                grant_runtime(conn, "thok_no_such_role")
            conn.rollback()
    finally:
        engine.dispose()


def test_thok_db_grant_runtime_and_verify_commands(fresh_database_url: str, runtime_role: str) -> None:
    def thok(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if k not in ("THOK_RUNTIME_ROLE", "DATABASE_OWNER_URL")}
        return subprocess.run(
            [sys.executable, "-m", "thok", *args],
            cwd=ROOT,
            env={**base, "REDIS_URL": "redis://127.0.0.1:1/0", **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    runtime_url = as_role(fresh_database_url, runtime_role)
    skipped = thok("db", "grant-runtime", "--if-set", DATABASE_URL=fresh_database_url)
    assert skipped.returncode == 0 and "not set" in skipped.stdout
    granted = thok(
        "db",
        "grant-runtime",
        DATABASE_URL=runtime_url,
        DATABASE_OWNER_URL=fresh_database_url,
        THOK_RUNTIME_ROLE=runtime_role,
    )
    assert granted.returncode == 0, granted.stderr
    assert f"granted {runtime_role} (owner postgres)" in granted.stdout
    refused = thok("db", "grant-runtime", "postgres", DATABASE_URL=fresh_database_url)
    assert refused.returncode == 1 and "superuser" in refused.stderr
    as_runtime = thok("db", "grant-runtime", runtime_role, DATABASE_URL=runtime_url)
    assert as_runtime.returncode == 1 and f"runs as the owner postgres (DATABASE_OWNER_URL), not as {runtime_role}" in (
        as_runtime.stderr
    )
    # A runtime role named but no owner URL: migrations would run as the runtime role. Refused.
    no_owner = thok("db", "upgrade", DATABASE_URL=runtime_url, THOK_RUNTIME_ROLE=runtime_role)
    assert no_owner.returncode == 1 and "DATABASE_OWNER_URL is not set" in no_owner.stderr
    # The runtime role named, but DATABASE_URL logs in as the owner: web and worker would too.
    as_owner = thok("db", "verify", "-q", DATABASE_URL=fresh_database_url, THOK_RUNTIME_ROLE=runtime_role)
    assert as_owner.returncode == 1
    assert f"MISSING DATABASE_URL logs in as postgres, not the runtime role {runtime_role}" in as_owner.stderr

    # verify, run as the runtime role (DATABASE_URL): the role is the one it logs in as.
    env = {"DATABASE_URL": runtime_url, "DATABASE_OWNER_URL": fresh_database_url}
    clean = thok("db", "verify", "-q", **env)
    assert clean.returncode == 0, clean.stderr
    with psycopg.connect(fresh_database_url, autocommit=True) as c:
        c.execute(sql.SQL("GRANT TRUNCATE ON ledger_entries TO {}").format(sql.Identifier(runtime_role)))
    dirty = thok("db", "verify", "-q", **env)
    assert dirty.returncode == 1
    assert f"MISSING runtime role {runtime_role} has TRUNCATE on ledger_entries" in dirty.stderr


def test_the_whole_trade_runs_as_the_runtime_role(
    thok_settings: Any, runtime_url: str, fake_twilio: Any, redis: Any
) -> None:
    """Order -> winner -> DEBIT -> payment over WhatsApp, web and worker both on the runtime role."""
    runtime = Database(runtime_url)
    with runtime.unit_of_work() as uow:  # `thok seed --demo` runs on DATABASE_URL: the role too
        seed_demo(uow.session)
        uow.commit()
    settings = thok_settings.with_overrides(
        database_url=runtime_url,
        offer_window_seconds=0,
        twilio_templates=(("offer_request", "HXinvite"), ("order_update", "HXupdate"), ("payment_update", "HXpay")),
    )
    context.configure(settings)
    shop = "+9779841000103"  # KC Mart
    try:
        assert context.get_services().database.url == runtime_url
        client = create_app(settings, runtime, redis_for(settings), TESTING=True).test_client()
        assert client.get("/readyz").status_code == 200  # reads alembic_version as the role

        def send(phone: str, body: str) -> list[str]:
            before = len(fake_twilio.posts())
            form = twilio_form(f"SM{next(_sids):032d}", sender=phone, body=body)
            assert client.post(PATH, data=form, headers=signed_headers(PATH, form), base_url=PUBLIC).status_code == 200
            run_worker(redis)
            new = fake_twilio.posts()[before:]
            return [r.form.get("Body", "") for r in new if r.form.get("To") == f"whatsapp:{phone}"]

        send(shop, "2 bora jeera masino, 5 kg masoor dal")
        send(shop, "YES")
        with runtime.session() as s:
            order = s.scalars(select(Order)).one()
            ref = order.ref
            assert order.status is OrderStatus.WHOLESALER_SELECTED
            winner = s.get(Wholesaler, order.final_wholesaler_id)
            assert winner is not None
            winner_phone = winner.whatsapp_number
        send(winner_phone, f"ACCEPT {ref}")
        send(winner_phone, f"PAID {shop} 1000 cash")
        with runtime.session() as s:
            order = s.scalars(select(Order)).one()
            assert order.status is OrderStatus.CONFIRMED and order.final_total is not None
            entries = s.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
            assert [(e.entry_type, e.amount) for e in entries] == [
                (EntryType.DEBIT, order.final_total),
                (EntryType.CREDIT, D(1000)),
            ]
            assert account_balance(s, order.retailer_id).outstanding == order.final_total - D(1000)
        khata = send(shop, "hisab")
        assert len(khata) == 1 and ref in khata[0]
    finally:
        context.configure(None)
        runtime.dispose()
