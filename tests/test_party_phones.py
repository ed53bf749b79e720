"""One WhatsApp number reaches at most one live party, retailer or wholesaler (migration 0009).

PostgreSQL is what refuses (raw SQL below, so nothing in Python can be what stops it); the domain,
the dashboard and the seed answer with the number, not a 500 or a lock-out.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from db.models import Retailer, Wholesaler
from db.session import Database
from domain import messaging
from domain.parties import NumberTaken, register_retailer, register_wholesaler
from tests.test_schema_constraints import UNIQUE, one, rejected

NUMBER = "+9779851000077"


def _retailer(session: Session, number: str = NUMBER) -> int:
    return int(
        one(session, "INSERT INTO retailers (name, whatsapp_number) VALUES ('Sita', :n) RETURNING id", {"n": number})
    )


def _wholesaler(session: Session, number: str = NUMBER) -> int:
    sql = "INSERT INTO wholesalers (name, whatsapp_number) VALUES ('Hari', :n) RETURNING id"
    return int(one(session, sql, {"n": number}))


def test_a_retailer_and_a_wholesaler_cannot_share_a_live_number(session: Session) -> None:
    _wholesaler(session)
    err = rejected(session, "INSERT INTO retailers (name, whatsapp_number) VALUES ('Sita', :n)", {"n": NUMBER})
    assert err.sqlstate == UNIQUE and err.diag.constraint_name == "pk_party_phones"
    assert NUMBER in str(err.diag.message_primary) and "wholesaler" in str(err.diag.message_primary)


def test_taking_a_number_by_update_is_refused_and_a_removed_party_frees_it(session: Session) -> None:
    wholesaler = _wholesaler(session)
    retailer = _retailer(session, "+9779841000077")
    err = rejected(session, "UPDATE retailers SET whatsapp_number = :n WHERE id = :id", {"n": NUMBER, "id": retailer})
    assert err.diag.constraint_name == "pk_party_phones"
    # A removed (soft-deleted) wholesaler gives the number back; restoring it while the retailer
    # holds the number is refused in turn.
    session.execute(text("UPDATE wholesalers SET deleted_at = now() WHERE id = :id"), {"id": wholesaler})
    session.execute(text("UPDATE retailers SET whatsapp_number = :n WHERE id = :id"), {"n": NUMBER, "id": retailer})
    err = rejected(session, "UPDATE wholesalers SET deleted_at = NULL WHERE id = :id", {"id": wholesaler})
    assert err.diag.constraint_name == "pk_party_phones"
    # The retailer's old number is free again, for either kind; a hard delete frees one too.
    _wholesaler(session, "+9779841000077")
    session.execute(text("DELETE FROM retailers WHERE id = :id"), {"id": retailer})
    _wholesaler(session, NUMBER)


def test_concurrent_registrations_of_one_number_let_exactly_one_commit(fresh_database: Database) -> None:
    """Two transactions each see the number free; the claim's primary key decides, not a SELECT."""
    url = fresh_database.url.replace("postgresql+psycopg://", "postgresql://")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def register(table: str) -> None:
        with psycopg.connect(url) as conn:
            barrier.wait()
            try:
                conn.execute(f"INSERT INTO {table} (name, whatsapp_number) VALUES ('x', %s)", (NUMBER,))
                conn.commit()
                outcomes.append("committed")
            except psycopg.errors.UniqueViolation:
                outcomes.append("refused")

    threads = [threading.Thread(target=register, args=(t,)) for t in ("retailers", "wholesalers")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["committed", "refused"]


def test_registering_a_taken_number_names_it_and_the_holder(session: Session) -> None:
    register_wholesaler(session, name="Hari", phone="9851000077")
    with pytest.raises(NumberTaken) as info:
        register_retailer(session, name="Sita", phone="985-1000077")
    assert f"{NUMBER} is already registered as a wholesaler" in str(info.value)
    # The wholesaler still gets their messages answered as the wholesaler.
    party = messaging.find_party(session, NUMBER)
    assert isinstance(party, Wholesaler)
    assert session.scalars(select(Retailer.id).where(Retailer.whatsapp_number == NUMBER)).first() is None


def test_a_number_taken_between_the_check_and_the_write_is_still_a_clear_refusal(session: Session) -> None:
    # What the domain's own check cannot see (another transaction's claim) the trigger refuses;
    # simulated by a claim the check does not look at.
    session.execute(
        text("INSERT INTO party_phones (whatsapp_number, party_kind, party_id) VALUES (:n, 'wholesaler', 999)"),
        {"n": NUMBER},
    )
    with pytest.raises(NumberTaken) as info:
        register_retailer(session, name="Sita", phone=NUMBER)
    assert NUMBER in str(info.value)
    assert one(session, "SELECT count(*) FROM retailers") == 0  # the session is still usable


def test_the_seed_refuses_a_number_an_existing_party_holds(session: Session) -> None:
    from thok.seed import RETAILERS, seed_demo

    phone = RETAILERS[0][2]
    register_wholesaler(session, name="Hari", phone=phone)
    with pytest.raises(NumberTaken) as info:
        seed_demo(session)
    assert str(info.value).startswith(phone)


def test_thok_seed_names_the_number_instead_of_a_traceback(
    fresh_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    from thok.seed import RETAILERS

    phone = RETAILERS[0][2]
    db = Database(fresh_database_url)
    with db.unit_of_work() as uow:
        register_wholesaler(uow.session, name="Hari", phone=phone)
        uow.commit()
    db.dispose()
    env = {**os.environ, "DATABASE_URL": fresh_database_url, "REDIS_URL": redis_url, "THOK_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "thok", "seed", "--demo"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert f"Error: {phone} is already registered as a wholesaler" in done.stderr
    assert "Traceback" not in done.stderr
