"""Failover that loses nothing (issue 19): a primary and a synchronous standby of the test's own
(bench/pgcluster.py), the app on the multi-host URL, signed webhooks and ledger postings under steady
traffic, the primary SIGKILLed mid-traffic and the standby promoted (by the test, or by pg_auto_failover
when it is installed). Everything acknowledged before,
during and after (every webhook answered 200, every ledger posting whose COMMIT returned) must be on
the new primary; meanwhile the webhook answers 503, never 200 for what it did not store, and finds
the new primary by itself. The measured RPO and RTO are printed (`pytest -s`); docs/operations.md
quotes them."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psutil
import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bench.pgcluster import BIN, PG_AUTOCTL, AutoFailoverCluster, PgCluster
from bot.app import create_app
from db.migrate import upgrade
from db.session import Database
from db.urls import to_psycopg_url
from domain.ledger import post_debit
from domain.parties import register_retailer
from tests.fake_twilio import PUBLIC, TOKEN, signed_headers, twilio_form
from thok.config import Settings
from thok.web import EXTENSION

PATH = "/webhooks/twilio/whatsapp"
SENDER = "+9779841000019"
WEBHOOK_EVERY = 0.02  # 50 webhooks/s, one client, as one provider connection would
LEDGER_EVERY = 0.05
DETECTION = 1.0  # seconds between losing the primary and promoting the standby (an operator or monitor)


@pytest.fixture(params=["promoted-by-hand", "pg_auto_failover"])
def cluster(request: pytest.FixtureRequest) -> Iterator[PgCluster | AutoFailoverCluster]:
    """The standby promoted by the test (pg_promote(), DETECTION s after the kill), or by
    pg_auto_failover's monitor (its timeouts shortened: bench/pgcluster.py's FAST_MONITOR)."""
    if not (BIN / "pg_basebackup").exists():
        pytest.skip("PostgreSQL 15 server binaries are not installed")
    if request.param == "pg_auto_failover" and not PG_AUTOCTL.exists():
        pytest.skip("pg_autoctl is not installed (apt-get install postgresql-15-auto-failover)")
    cluster = PgCluster() if request.param == "promoted-by-hand" else AutoFailoverCluster()
    try:  # stop() also runs when start() fails half-way, and at exit whatever happens
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pair() -> Iterator[PgCluster]:
    if not (BIN / "pg_basebackup").exists():
        pytest.skip("PostgreSQL 15 server binaries are not installed")
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def test_a_commit_returns_only_once_the_standby_has_it(pair: PgCluster) -> None:
    """Why nothing acknowledged is lost: with the standby's WAL receiver frozen, an autocommit INSERT
    (the webhook's) waits in SyncRep instead of returning; it returns once the standby has the WAL."""
    with psycopg.connect(pair.primary_url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE sync_probe (id int)")
    standby = psutil.Process(int((pair.standby_dir / "postmaster.pid").read_text().split()[0]))
    (receiver,) = [p for p in standby.children() if "walreceiver" in " ".join(p.cmdline())]
    returned = threading.Event()

    def insert() -> None:
        with psycopg.connect(pair.primary_url(), autocommit=True) as conn:
            conn.execute("INSERT INTO sync_probe VALUES (1)")
        returned.set()

    receiver.suspend()
    try:
        writer = threading.Thread(target=insert, daemon=True)
        writer.start()
        assert not returned.wait(1.5), "the INSERT returned before the standby had its WAL"
        with psycopg.connect(pair.primary_url(), autocommit=True) as conn:
            waiting = conn.execute(
                "SELECT wait_event FROM pg_stat_activity WHERE query LIKE 'INSERT INTO sync_probe%'"
            ).fetchall()
        assert waiting == [("SyncRep",)]
    finally:
        receiver.resume()
    assert returned.wait(10), "the INSERT did not return once the standby had the WAL"
    writer.join(timeout=5)
    with psycopg.connect(pair.standby_url(), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM sync_probe").fetchone() == (1,)


@pytest.mark.parametrize(
    ("written", "hosts", "ports", "rest"),
    [
        # libpq's multi-host form, as docs/operations.md writes it
        (
            "postgresql://thok:s%40cret@db1:5432,db2:5433/thok?target_session_attrs=read-write",
            "db1,db2",
            "5432,5433",
            {"dbname": "thok", "user": "thok", "password": "s@cret", "target_session_attrs": "read-write"},
        ),
        ("postgres://db1:5432,db2:5432", "db1,db2", "5432,5432", {}),
        (
            "postgresql://u@h:5432/thok?sslmode=require",
            "h",
            5432,
            {"dbname": "thok", "user": "u", "sslmode": "require"},
        ),
    ],
)
def test_a_multi_host_url_reaches_psycopg_with_every_host(
    written: str, hosts: str, ports: object, rest: dict[str, str]
) -> None:
    """SQLAlchemy's URL parser reads one host:port; db/urls.py hands it the hosts as it spells them."""
    url = make_url(to_psycopg_url(written))
    args = create_engine(url).dialect.create_connect_args(url)[1]
    args.pop("context", None)
    assert args == {"host": hosts, "port": ports, **rest}


@dataclass
class Traffic:
    """A thread doing one thing at a steady pace, recording what each attempt came to."""

    every: float
    attempt: Callable[[int], tuple[str, str]]  # i -> (key, outcome)
    outcomes: list[tuple[float, str, str]] = field(default_factory=list)  # (monotonic, key, outcome)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> Traffic:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            started = time.monotonic()
            key, outcome = self.attempt(i)
            self.outcomes.append((time.monotonic(), key, outcome))
            i += 1
            self.stop.wait(max(0.0, self.every - (time.monotonic() - started)))

    def halt(self) -> None:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(timeout=30)

    def keys(self, outcome: str) -> list[str]:
        return [key for _, key, seen in self.outcomes if seen == outcome]

    def count_after(self, moment: float, outcome: str) -> int:
        return sum(1 for at, _, seen in self.outcomes if at > moment and seen == outcome)


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def test_a_killed_primary_loses_no_acknowledged_webhook_or_ledger_entry(
    cluster: PgCluster | AutoFailoverCluster, redis_url: str, tmp_path: Path
) -> None:
    url = cluster.url()
    upgrade(url)  # Alembic through the multi-host URL too (db/urls.py rewrites it for SQLAlchemy)
    settings = Settings(
        database_url=url,
        redis_url=redis_url,
        secret_key="test-secret-key-of-thirty-two-chars",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=TOKEN,
        twilio_whatsapp_from="whatsapp:+14155238886",
        public_base_url=PUBLIC,
        data_dir=tmp_path / "thok-data",
        log_level="WARNING",  # not a line per request: the 503s' errors are the story here
    )
    app = create_app(settings, TESTING=True)  # its Database as production builds it (thok.runtime)
    ledger_db = Database(url)  # a worker's engine, separate from the web's
    with ledger_db.unit_of_work() as uow:
        retailer_id = register_retailer(
            uow.session, name="Sita", phone=SENDER, shop_name="Sita Kirana", credit_limit=Decimal(10**9)
        ).id
        uow.commit()
    client = app.test_client()
    run = uuid.uuid4().hex[:8]

    def webhook(i: int) -> tuple[str, str]:
        sid = f"SM{run}{i:024d}"
        form = twilio_form(sid, sender=SENDER, body=f"failover {i}")
        response = client.post(PATH, data=form, headers=signed_headers(PATH, form), base_url=PUBLIC)
        return sid, str(response.status_code)

    def ledger(i: int) -> tuple[str, str]:
        key = f"failover:{run}:{i}"
        try:
            with ledger_db.unit_of_work() as uow:
                post_debit(
                    uow.session, retailer_id=retailer_id, amount=Decimal(1), idempotency_key=key, description="f"
                )
                uow.commit()
        except Exception as exc:  # the commit did not return: not acknowledged, may or may not be there
            return key, type(exc).__name__
        return key, "committed"

    webhooks = Traffic(WEBHOOK_EVERY, webhook).start()
    postings = Traffic(LEDGER_EVERY, ledger).start()
    try:
        _wait(lambda: len(webhooks.keys("200")) >= 40 and len(postings.keys("committed")) >= 10, 30, "traffic")
        cluster.kill_primary()
        assert cluster.killed_at is not None
        if isinstance(cluster, PgCluster):
            time.sleep(DETECTION)
        cluster.promote_standby()  # pg_auto_failover: waits for the monitor's promotion
        assert cluster.promoted_at is not None
        promoted_at = cluster.promoted_at
        _wait(
            lambda: (
                webhooks.count_after(promoted_at, "200") >= 40 and postings.count_after(promoted_at, "committed") >= 10
            ),
            30,
            "webhooks and postings to succeed on the promoted standby",
        )
    finally:
        webhooks.halt()
        postings.halt()
        ledger_db.dispose()
        app.extensions[EXTENSION].database.dispose()

    killed_at = cluster.killed_at
    acknowledged = webhooks.keys("200")
    committed = postings.keys("committed")
    with psycopg.connect(cluster.standby_url(), autocommit=True) as new_primary:
        assert new_primary.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        stored = {sid for (sid,) in new_primary.execute("SELECT message_sid FROM inbound_messages")}
        booked = {key for (key,) in new_primary.execute("SELECT idempotency_key FROM ledger_idempotency_keys")}
    lost_webhooks = [sid for sid in acknowledged if sid not in stored]
    lost_entries = [key for key in committed if key not in booked]
    refused = webhooks.keys("503")
    first_200_after = min(at for at, _, seen in webhooks.outcomes if at > promoted_at and seen == "200")
    first_commit_after = min(at for at, _, seen in postings.outcomes if at > promoted_at and seen == "committed")
    failed = Counter(outcome for _, _, outcome in postings.outcomes if outcome != "committed")
    print(
        f"\nfailover ({type(cluster).__name__}): "
        f"RPO {len(lost_webhooks)} of {len(acknowledged)} acknowledged webhooks lost, "
        f"{len(lost_entries)} of {len(committed)} committed ledger entries lost; "
        f"RTO kill -> first 200 {first_200_after - killed_at:.2f} s "
        f"(promoted {promoted_at - killed_at:.2f} s after the kill, first 200 {first_200_after - promoted_at:.2f} s "
        f"after promotion; first ledger commit {first_commit_after - promoted_at:.2f} s after); "
        f"{len(refused)} answered 503 meanwhile ({sum(sid in stored for sid in refused)} of them stored all the same, "
        f"a provider's retry is a duplicate), ledger failures {failed}"
    )
    assert {outcome for _, _, outcome in webhooks.outcomes} <= {"200", "503"}  # never a 500, never a lost 200
    assert refused, "the outage was not seen: no 503 between the kill and the promotion"
    assert set(failed) <= {"OperationalError", "InterfaceError"}  # the outage, not a bug of the test's
    assert lost_webhooks == [] and lost_entries == []
    # Acknowledged both before and after the kill: the check covers both sides of the failover.
    assert any(at < killed_at for at, _, seen in webhooks.outcomes if seen == "200")
    assert any(at < killed_at for at, _, seen in postings.outcomes if seen == "committed")
