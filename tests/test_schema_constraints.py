"""Every integrity rule of the foundation, proven by a bad write that PostgreSQL itself refuses.

Writes go through raw SQL (and, for the ledger, also the ORM) so nothing in Python can be what
stops them; each test checks the SQLSTATE and the constraint or trigger that fired.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db.models import LedgerEntry

CHECK = "23514"
UNIQUE = "23505"
RESTRICT = "23001"


def rejected(session: Session, sql: str, params: dict[str, Any] | None = None) -> psycopg.Error:
    """Run `sql` in a savepoint, expect PostgreSQL to refuse it, and return the driver error."""
    with pytest.raises(DBAPIError) as info, session.begin_nested():
        session.execute(text(sql), params or {})
    assert isinstance(info.value.orig, psycopg.Error)
    return info.value.orig


def one(session: Session, sql: str, params: dict[str, Any] | None = None) -> Any:
    return session.execute(text(sql), params or {}).scalar_one()


@pytest.fixture
def market(session: Session) -> dict[str, int]:
    """A retailer with credit, a wholesaler selling one product, and one order with an offer."""
    ids: dict[str, int] = {}
    ids["retailer"] = one(
        session,
        "INSERT INTO retailers (name, whatsapp_number) VALUES ('Krishna', '+9779841000001') RETURNING id",
    )
    ids["wholesaler"] = one(
        session,
        "INSERT INTO wholesalers (name, whatsapp_number) VALUES ('Ram', '+9779851000001') RETURNING id",
    )
    ids["wholesaler2"] = one(
        session,
        "INSERT INTO wholesalers (name, whatsapp_number) VALUES ('Sita', '+9779851000002') RETURNING id",
    )
    ids["product"] = one(
        session,
        "INSERT INTO products (sku, name, unit) VALUES ('RICE-JEERA', 'Jeera Masino', 'bora') RETURNING id",
    )
    ids["wp"] = one(
        session,
        "INSERT INTO wholesaler_products (wholesaler_id, product_id, price, stock) "
        "VALUES (:w, :p, 2400, 10) RETURNING id",
        {"w": ids["wholesaler"], "p": ids["product"]},
    )
    ids["account"] = one(
        session,
        "INSERT INTO credit_accounts (retailer_id, credit_limit, outstanding) VALUES (:r, 5000, 0) RETURNING id",
        {"r": ids["retailer"]},
    )
    ids["order"] = one(
        session,
        "INSERT INTO orders (ref, retailer_id) VALUES ('TK-7F3K', :r) RETURNING id",
        {"r": ids["retailer"]},
    )
    ids["offer"] = one(
        session,
        "INSERT INTO vendor_offers (order_id, wholesaler_id, total_price) VALUES (:o, :w, 4800) RETURNING id",
        {"o": ids["order"], "w": ids["wholesaler"]},
    )
    return ids


# --- stock ---------------------------------------------------------------------------------------


def test_stock_cannot_go_negative(session: Session, market: dict[str, int]) -> None:
    err = rejected(session, "UPDATE wholesaler_products SET stock = -1 WHERE id = :id", {"id": market["wp"]})
    assert err.sqlstate == CHECK
    # Both CHECKs refuse it; drop the reservation CHECK (rolled back with the test) to prove that
    # `stock >= 0` holds on its own.
    assert err.diag.constraint_name in {
        "ck_wholesaler_products_stock_non_negative",
        "ck_wholesaler_products_reserved_within_stock",
    }
    session.execute(
        text("ALTER TABLE wholesaler_products DROP CONSTRAINT ck_wholesaler_products_reserved_within_stock")
    )
    err = rejected(session, "UPDATE wholesaler_products SET stock = -1 WHERE id = :id", {"id": market["wp"]})
    assert err.diag.constraint_name == "ck_wholesaler_products_stock_non_negative"


@pytest.mark.parametrize("reserved", [11, -1])
def test_reserved_stock_stays_within_stock(session: Session, market: dict[str, int], reserved: int) -> None:
    err = rejected(
        session,
        "UPDATE wholesaler_products SET reserved_stock = :q WHERE id = :id",
        {"q": reserved, "id": market["wp"]},
    )
    assert err.sqlstate == CHECK
    assert err.diag.constraint_name == "ck_wholesaler_products_reserved_within_stock"


def test_stock_cannot_drop_below_what_is_reserved(session: Session, market: dict[str, int]) -> None:
    session.execute(
        text("UPDATE wholesaler_products SET reserved_stock = 8 WHERE id = :id"), {"id": market["wp"]}
    )
    err = rejected(session, "UPDATE wholesaler_products SET stock = 7 WHERE id = :id", {"id": market["wp"]})
    assert err.diag.constraint_name == "ck_wholesaler_products_reserved_within_stock"


def test_conditional_reservation_never_oversells(session: Session, market: dict[str, int]) -> None:
    """The reservation statement the decision engine uses: the second 6 units find only 4 left."""
    reserve = (
        "UPDATE wholesaler_products SET reserved_stock = reserved_stock + :q "
        "WHERE id = :id AND stock - reserved_stock >= :q"
    )
    assert session.execute(text(reserve), {"q": 6, "id": market["wp"]}).rowcount == 1
    assert session.execute(text(reserve), {"q": 6, "id": market["wp"]}).rowcount == 0
    assert (
        one(session, "SELECT reserved_stock FROM wholesaler_products WHERE id = :id", {"id": market["wp"]})
        == 6
    )


def test_one_live_price_row_per_wholesaler_and_product(session: Session, market: dict[str, int]) -> None:
    sql = "INSERT INTO wholesaler_products (wholesaler_id, product_id, price, stock) VALUES (:w, :p, 2500, 5)"
    params = {"w": market["wholesaler"], "p": market["product"]}
    err = rejected(session, sql, params)
    assert err.sqlstate == UNIQUE
    assert err.diag.constraint_name == "uq_wholesaler_products_wholesaler_id_product_id_live"
    # Once the old row is soft-deleted, a new live price row is allowed.
    session.execute(
        text("UPDATE wholesaler_products SET deleted_at = now() WHERE id = :id"), {"id": market["wp"]}
    )
    session.execute(text(sql), params)


# --- credit --------------------------------------------------------------------------------------


def test_credit_limit_cannot_be_negative(session: Session, market: dict[str, int]) -> None:
    err = rejected(
        session, "UPDATE credit_accounts SET credit_limit = -1 WHERE id = :id", {"id": market["account"]}
    )
    assert err.sqlstate == CHECK
    assert err.diag.constraint_name == "ck_credit_accounts_credit_limit_non_negative"


@pytest.mark.parametrize("outstanding", [5000.01, -1])
def test_outstanding_stays_within_the_limit(
    session: Session, market: dict[str, int], outstanding: float
) -> None:
    err = rejected(
        session,
        "UPDATE credit_accounts SET outstanding = :o WHERE id = :id",
        {"o": outstanding, "id": market["account"]},
    )
    assert err.sqlstate == CHECK
    assert err.diag.constraint_name.startswith("ck_credit_accounts_outstanding")


def test_per_wholesaler_credit_has_the_same_rules(session: Session, market: dict[str, int]) -> None:
    rwc = one(
        session,
        "INSERT INTO retailer_wholesaler_credits (retailer_id, wholesaler_id, credit_limit) "
        "VALUES (:r, :w, 1000) RETURNING id",
        {"r": market["retailer"], "w": market["wholesaler"]},
    )
    err = rejected(
        session, "UPDATE retailer_wholesaler_credits SET outstanding = 1001 WHERE id = :id", {"id": rwc}
    )
    assert err.diag.constraint_name.startswith("ck_retailer_wholesaler_credits_outstanding")
    err = rejected(
        session, "UPDATE retailer_wholesaler_credits SET credit_limit = -5 WHERE id = :id", {"id": rwc}
    )
    assert err.diag.constraint_name == "ck_retailer_wholesaler_credits_credit_limit_non_negative"


def test_one_credit_account_per_retailer(session: Session, market: dict[str, int]) -> None:
    err = rejected(
        session, "INSERT INTO credit_accounts (retailer_id) VALUES (:r)", {"r": market["retailer"]}
    )
    assert err.diag.constraint_name == "uq_credit_accounts_retailer_id"


# --- ledger --------------------------------------------------------------------------------------

INSERT_ENTRY = (
    "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, balance_after) "
    "VALUES (:t, :a, :r, 'test', :k, :b) RETURNING id"
)


@pytest.fixture
def entry(session: Session, market: dict[str, int]) -> int:
    return int(
        one(
            session,
            INSERT_ENTRY,
            {"t": "DEBIT", "a": 1200, "r": market["retailer"], "k": "order:1", "b": 1200},
        )
    )


@pytest.mark.parametrize("amount", [0, -50])
def test_ledger_amount_must_be_positive(session: Session, market: dict[str, int], amount: int) -> None:
    err = rejected(
        session, INSERT_ENTRY, {"t": "DEBIT", "a": amount, "r": market["retailer"], "k": "x", "b": 0}
    )
    assert err.sqlstate == CHECK
    assert err.diag.constraint_name == "ck_ledger_entries_amount_positive"


def test_ledger_idempotency_key_is_unique(session: Session, market: dict[str, int], entry: int) -> None:
    err = rejected(
        session, INSERT_ENTRY, {"t": "DEBIT", "a": 1200, "r": market["retailer"], "k": "order:1", "b": 2400}
    )
    assert err.sqlstate == UNIQUE
    assert err.diag.constraint_name == "uq_ledger_entries_idempotency_key"


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entries SET amount = 1 WHERE id = :id",
        "UPDATE ledger_entries SET description = 'edited' WHERE id = :id",
        "DELETE FROM ledger_entries WHERE id = :id",
        "TRUNCATE ledger_entries",
        "TRUNCATE ledger_entries CASCADE",
    ],
)
def test_ledger_is_append_only_through_raw_sql(session: Session, entry: int, sql: str) -> None:
    err = rejected(session, sql, {"id": entry})
    assert err.sqlstate == RESTRICT
    assert "ledger_entries is append-only" in str(err)
    assert err.diag.message_hint == "Corrections are new CREDIT entries."
    assert one(session, "SELECT count(*) FROM ledger_entries") == 1


def test_ledger_is_append_only_through_the_orm(session: Session, entry: int) -> None:
    row = session.get(LedgerEntry, entry)
    assert row is not None
    with pytest.raises(DBAPIError, match="append-only: UPDATE"), session.begin_nested():
        row.amount = Decimal("1.00")
        session.flush()
    session.expire_all()
    with pytest.raises(DBAPIError, match="append-only: DELETE"), session.begin_nested():
        session.delete(session.get(LedgerEntry, entry))
        session.flush()


def test_ledger_is_append_only_on_a_plain_driver_connection(fresh_database_url: str) -> None:
    """Not through SQLAlchemy at all: psycopg straight to the server, autocommit."""
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        rid = conn.execute(
            "INSERT INTO retailers (name, whatsapp_number) VALUES ('A', '+9779841000009') RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, balance_after)"
            " VALUES ('DEBIT', 10, %s, 'x', 'k1', 10)",
            (rid,),
        )
        for statement in (
            "UPDATE ledger_entries SET amount = 5",
            "DELETE FROM ledger_entries",
            "TRUNCATE ledger_entries",
        ):
            with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
                conn.execute(statement)
        assert conn.execute("SELECT count(*), sum(amount) FROM ledger_entries").fetchone() == (
            1,
            Decimal("10.00"),
        )


def test_a_payment_books_exactly_one_credit_entry(session: Session, market: dict[str, int]) -> None:
    payment = one(
        session,
        "INSERT INTO retailer_payments (retailer_id, amount, method, reference, recorded_by_wholesaler_id) "
        "VALUES (:r, 500, 'ESEWA', 'REF1', :w) RETURNING id",
        {"r": market["retailer"], "w": market["wholesaler"]},
    )
    book = (
        "INSERT INTO ledger_entries (entry_type, amount, retailer_id, payment_id, description, idempotency_key, "
        "balance_after) VALUES (:t, 500, :r, :p, 'payment', :k, 0)"
    )
    session.execute(text(book), {"t": "CREDIT", "r": market["retailer"], "p": payment, "k": "pay:1"})
    err = rejected(session, book, {"t": "CREDIT", "r": market["retailer"], "p": payment, "k": "pay:1-again"})
    assert err.diag.constraint_name == "uq_ledger_entries_payment_id"
    err = rejected(session, book, {"t": "DEBIT", "r": market["retailer"], "p": payment, "k": "pay:debit"})
    assert err.diag.constraint_name == "ck_ledger_entries_payment_is_credit"


def test_the_same_payment_reference_cannot_be_recorded_twice(
    session: Session, market: dict[str, int]
) -> None:
    sql = (
        "INSERT INTO retailer_payments (retailer_id, amount, method, reference, recorded_by_wholesaler_id) "
        "VALUES (:r, 500, 'KHALTI', 'KH-991', :w)"
    )
    session.execute(text(sql), {"r": market["retailer"], "w": market["wholesaler"]})
    err = rejected(session, sql, {"r": market["retailer"], "w": market["wholesaler"]})
    assert err.diag.constraint_name == "uq_retailer_payments_method_reference"


def test_no_foreign_key_points_into_the_ledger(session: Session) -> None:
    """So the ledger can be range-partitioned by month later."""
    assert (
        one(
            session,
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = 'ledger_entries'::regclass",
        )
        == 0
    )


# --- numbers and soft delete ---------------------------------------------------------------------


@pytest.mark.parametrize("table", ["retailers", "wholesalers"])
def test_whatsapp_number_unique_among_live_rows(session: Session, market: dict[str, int], table: str) -> None:
    number = "+9779841000001" if table == "retailers" else "+9779851000001"
    insert = f"INSERT INTO {table} (name, whatsapp_number) VALUES ('Again', :n) RETURNING id"
    err = rejected(session, insert, {"n": number})
    assert err.sqlstate == UNIQUE
    assert err.diag.constraint_name == f"uq_{table}_whatsapp_number_live"
    # A soft-deleted number can be registered again, and then is unique again.
    session.execute(text(f"UPDATE {table} SET deleted_at = now() WHERE whatsapp_number = :n"), {"n": number})
    session.execute(text(insert), {"n": number})
    assert one(session, f"SELECT count(*) FROM {table} WHERE whatsapp_number = :n", {"n": number}) == 2
    err = rejected(session, insert, {"n": number})
    assert err.diag.constraint_name == f"uq_{table}_whatsapp_number_live"


def test_whatsapp_number_must_be_e164(session: Session) -> None:
    err = rejected(session, "INSERT INTO retailers (name, whatsapp_number) VALUES ('X', '9841000001')")
    assert err.diag.constraint_name == "ck_retailers_whatsapp_e164"


# --- offers and the winner -----------------------------------------------------------------------


def test_one_offer_per_order_and_wholesaler(session: Session, market: dict[str, int]) -> None:
    err = rejected(
        session,
        "INSERT INTO vendor_offers (order_id, wholesaler_id, total_price) VALUES (:o, :w, 4700)",
        {"o": market["order"], "w": market["wholesaler"]},
    )
    assert err.diag.constraint_name == "uq_vendor_offers_order_id_wholesaler_id"


def test_at_most_one_won_offer_per_order(session: Session, market: dict[str, int]) -> None:
    second = one(
        session,
        "INSERT INTO vendor_offers (order_id, wholesaler_id, total_price) VALUES (:o, :w, 4700) RETURNING id",
        {"o": market["order"], "w": market["wholesaler2"]},
    )
    session.execute(text("UPDATE vendor_offers SET status = 'WON' WHERE id = :id"), {"id": market["offer"]})
    err = rejected(session, "UPDATE vendor_offers SET status = 'WON' WHERE id = :id", {"id": second})
    assert err.sqlstate == UNIQUE
    assert err.diag.constraint_name == "uq_vendor_offers_order_id_won"


def test_a_decided_order_keeps_its_winner(session: Session, market: dict[str, int]) -> None:
    params = {"o": market["order"], "w": market["wholesaler"], "w2": market["wholesaler2"]}
    session.execute(text("UPDATE orders SET final_wholesaler_id = :w WHERE id = :o"), params)
    err = rejected(session, "UPDATE orders SET final_wholesaler_id = :w2 WHERE id = :o", params)
    assert err.sqlstate == UNIQUE
    assert err.diag.constraint_name == "trg_orders_winner_set_once"
    assert "already has winning wholesaler" in str(err)
    # Releasing the winner first (the accept-timeout path) is allowed, then the next may win.
    session.execute(text("UPDATE orders SET final_wholesaler_id = NULL WHERE id = :o"), params)
    session.execute(text("UPDATE orders SET final_wholesaler_id = :w2 WHERE id = :o"), params)


def test_a_selected_order_must_have_its_wholesaler(session: Session, market: dict[str, int]) -> None:
    err = rejected(
        session, "UPDATE orders SET status = 'WHOLESALER_SELECTED' WHERE id = :o", {"o": market["order"]}
    )
    assert err.diag.constraint_name == "ck_orders_winner_when_selected"


def test_order_status_is_a_postgres_enum(session: Session, market: dict[str, int]) -> None:
    err = rejected(session, "UPDATE orders SET status = 'SHIPPED' WHERE id = :o", {"o": market["order"]})
    assert err.sqlstate == "22P02"  # invalid input value for enum order_status


def test_reservations_are_positive_and_single_per_line(session: Session, market: dict[str, int]) -> None:
    sql = "INSERT INTO stock_reservations (wholesaler_product_id, order_id, quantity) VALUES (:wp, :o, :q)"
    err = rejected(session, sql, {"wp": market["wp"], "o": market["order"], "q": 0})
    assert err.diag.constraint_name == "ck_stock_reservations_quantity_positive"
    session.execute(text(sql), {"wp": market["wp"], "o": market["order"], "q": 2})
    err = rejected(session, sql, {"wp": market["wp"], "o": market["order"], "q": 2})
    assert err.diag.constraint_name == "uq_stock_reservations_order_id_wholesaler_product_id_active"


def test_times_are_timestamptz(session: Session, market: dict[str, int]) -> None:
    created = one(session, "SELECT created_at FROM orders WHERE id = :o", {"o": market["order"]})
    assert isinstance(created, datetime) and created.tzinfo is not None
    assert abs((datetime.now(UTC) - created).total_seconds()) < 3600
