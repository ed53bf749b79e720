"""Read routing against a real streaming replica the test builds itself on loopback: a primary
from initdb, a standby from `pg_basebackup -R`, both in pytest's temp dir (never the shared server)."""

from __future__ import annotations

import contextvars
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from db.migrate import upgrade
from db.session import Database

BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_pg(*cmd: str) -> None:
    # PostgreSQL refuses to run as root; the image has an unprivileged `pgserver` user for this.
    prefix = ["runuser", "-u", "pgserver", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=120)


def _wait_replayed(standby_url: str, primary_url: str) -> None:
    with psycopg.connect(primary_url, autocommit=True) as p:
        target = p.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
    with psycopg.connect(standby_url, autocommit=True) as s:
        for _ in range(200):
            if s.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (str(target),)).fetchone()[0]:  # type: ignore[index]
                return
            time.sleep(0.05)
    raise AssertionError("the standby did not catch up")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, object]]:
    if not (BIN / "pg_basebackup").exists():
        pytest.skip("PostgreSQL 15 server binaries are not installed")
    # Not under pytest's temp dir: that is private to root, and the servers run as another user.
    root = Path(tempfile.mkdtemp(prefix="thok-replica-"))
    primary, standby = root / "primary", root / "standby"
    p_port, s_port = _free_port(), _free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "pgserver")
    _as_pg(str(BIN / "initdb"), "-D", str(primary), "-A", "trust", "-U", "postgres", "--no-sync")
    with (primary / "postgresql.conf").open("a") as conf:
        conf.write(
            f"port = {p_port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n"
            "wal_level = replica\nmax_wal_senders = 4\nfsync = off\n"
            "shared_buffers = 32MB\n"
        )
    with (primary / "pg_hba.conf").open("a") as hba:
        hba.write("host replication all 127.0.0.1/32 trust\n")
    _as_pg(str(BIN / "pg_ctl"), "-D", str(primary), "-l", str(root / "primary.log"), "-w", "start")
    try:
        _as_pg(
            str(BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(p_port),
            "-U",
            "postgres",
            "-D",
            str(standby),
            "-R",
            "-X",
            "stream",
            "--no-sync",
        )
        with (standby / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {s_port}\nhot_standby = on\n")
        _as_pg(str(BIN / "pg_ctl"), "-D", str(standby), "-l", str(root / "standby.log"), "-w", "start")
        primary_url = f"postgresql://postgres@127.0.0.1:{p_port}/postgres"
        standby_url = f"postgresql://postgres@127.0.0.1:{s_port}/postgres"
        upgrade(primary_url)
        _wait_replayed(standby_url, primary_url)
        yield {"primary": primary_url, "standby": standby_url, "standby_dir": standby}
    finally:
        for d in (standby, primary):
            if (d / "postmaster.pid").exists():
                _as_pg(str(BIN / "pg_ctl"), "-D", str(d), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _retailer(db: Database, phone: str) -> int:
    with db.unit_of_work() as uow:
        rid = uow.session.execute(
            text("INSERT INTO retailers (name, whatsapp_number) VALUES ('R', :p) RETURNING id"), {"p": phone}
        ).scalar_one()
        uow.commit()
    return int(rid)


def _sees(db: Database, rid: int, after_lsn: str | None = None) -> bool:
    with db.read_session(after_lsn) as s:
        return s.execute(text("SELECT count(*) FROM retailers WHERE id = :i"), {"i": rid}).scalar() == 1


def test_reads_go_to_the_replica_and_writes_to_the_primary(servers: dict[str, object]) -> None:
    db = Database(str(servers["primary"]), replica_url=str(servers["standby"]))
    try:
        with db.read_session() as s:
            assert s.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
        assert db.router.last_route == "replica"
        with db.unit_of_work() as uow:
            assert uow.session.execute(text("SELECT pg_is_in_recovery()")).scalar() is False
    finally:
        db.dispose()


def test_an_admin_reads_their_own_write_while_the_replica_lags(servers: dict[str, object]) -> None:
    db = Database(str(servers["primary"]), replica_url=str(servers["standby"]))
    with psycopg.connect(str(servers["standby"]), autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        while standby.execute("SELECT pg_get_wal_replay_pause_state()").fetchone() != ("paused",):
            time.sleep(0.02)
        try:
            rid = _retailer(db, "+9779841000901")
            lsn = db.last_write_lsn()
            assert lsn is not None
            # The writer's next read goes to the primary, and sees the write.
            assert _sees(db, rid)
            assert db.router.last_route == "primary:replica-behind"
            # Someone else (no LSN of theirs) reads the replica, which really is behind.
            other = contextvars.Context().run(_sees, db, rid)
            assert other is False and db.router.last_route == "replica"
            # The dashboard carries the LSN in the admin's cookie to the next request.
            assert contextvars.Context().run(_sees, db, rid, lsn) is True
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
    _wait_replayed(str(servers["standby"]), str(servers["primary"]))
    assert _sees(db, rid) and db.router.last_route == "replica"
    db.dispose()


def test_the_dashboard_reads_the_replica_and_an_admin_sees_their_own_write(
    servers: dict[str, object], settings: object, redis: object
) -> None:
    """Through the dashboard itself: the admin who just created a retailer sees it on the next
    page although the replica has not replayed it yet; once it has, lists come from the replica."""
    from sqlalchemy import select

    from db.models import Admin
    from tests.browser import support
    from tests.test_dashboard import login, token_of

    db = Database(str(servers["primary"]), replica_url=str(servers["standby"]))
    with db.unit_of_work() as uow:
        seeded = uow.session.scalars(select(Admin.id).limit(1)).first() is not None
    if not seeded:
        support.seed(db)
    _wait_replayed(str(servers["standby"]), str(servers["primary"]))
    app = support.build_app(settings, db, redis, TESTING=True)  # type: ignore[arg-type]
    client = app.test_client()
    assert login(client).status_code == 302
    with psycopg.connect(str(servers["standby"]), autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        while standby.execute("SELECT pg_get_wal_replay_pause_state()").fetchone() != ("paused",):
            time.sleep(0.02)
        try:
            form = {
                "name": "Replica Lag Test",
                "display_name": "Lag Pasal",
                "phone": "9841000977",
                "district": "Kaski",
                "language": "en",
                "credit_limit": "1000",
                "csrf_token": token_of(client, "/dashboard/retailers/new"),
            }
            assert client.post("/dashboard/retailers/new", data=form).status_code == 303
            page = client.get("/dashboard/retailers?q=Lag+Pasal").get_data(as_text=True)
            assert "Lag Pasal" in page  # read on the primary: the replica is behind this admin's write
            assert db.router.last_route == "primary:replica-behind"
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
    _wait_replayed(str(servers["standby"]), str(servers["primary"]))
    assert "Lag Pasal" in client.get("/dashboard/retailers?q=Lag+Pasal").get_data(as_text=True)
    assert db.router.last_route == "replica"
    db.dispose()


def test_reads_fall_back_to_the_primary_when_the_replica_is_down(
    servers: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(str(servers["primary"]), replica_url=str(servers["standby"]))
    standby_dir = servers["standby_dir"]
    _as_pg(str(BIN / "pg_ctl"), "-D", str(standby_dir), "-m", "fast", "-w", "stop")
    try:
        with caplog.at_level(logging.WARNING, logger="db.replica"):
            rid = _retailer(db, "+9779841000902")
            assert _sees(db, rid)
        assert db.router.last_route == "primary:replica-down"
        assert "replica unreachable" in caplog.text
        started = time.monotonic()
        assert _sees(db, rid)  # not tried again for a while: no connect timeout per page
        assert time.monotonic() - started < 1.0
    finally:
        db.dispose()

