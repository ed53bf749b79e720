"""Price lists and catalogs larger than PostgreSQL's 65,535 bind parameters per statement import in
batches (the whole file still all or nothing), from the domain and from `thok import-*`; and no
error the database raises carries a statement's parameters into a log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db.models import Product, WholesalerProduct
from db.session import Database
from domain.catalog import import_prices, import_products
from domain.parties import register_wholesaler

ROWS = 70_000  # more rows than one statement may carry parameters, even at one parameter a row
WHOLESALER = "+9779851000055"


def products_csv(n: int = ROWS) -> str:
    return "sku,name,name_ne,aliases,unit,category\n" + "".join(
        f"SKU-{i:06d},Product {i},,p{i},kg,bulk\n" for i in range(n)
    )


def prices_csv(n: int = ROWS) -> str:
    return "sku,price,stock\n" + "".join(f"SKU-{i:06d},{100 + i % 50}.50,{i % 900}\n" for i in range(n))


def test_a_price_list_over_65535_rows_imports_whole(session: Session) -> None:
    register_wholesaler(session, name="Hari", phone=WHOLESALER)
    assert import_products(session, products_csv(), "products.csv").rows == ROWS
    result = import_prices(session, WHOLESALER, prices_csv(), "prices.csv")
    assert (result.rows, result.inserted, result.updated) == (ROWS, ROWS, 0)
    assert session.scalar(select(func.count()).select_from(WholesalerProduct)) == ROWS
    # Once more: every line is now an update, found by the same lookup.
    again = import_prices(session, WHOLESALER, prices_csv(), "prices.csv")
    assert (again.inserted, again.updated) == (0, ROWS)


def test_thok_import_commands_take_a_file_over_65535_rows(
    fresh_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    db = Database(fresh_database_url)
    with db.unit_of_work() as uow:
        register_wholesaler(uow.session, name="Hari", phone=WHOLESALER)
        uow.commit()
    (tmp_path / "products.csv").write_text(products_csv())
    (tmp_path / "prices.csv").write_text(prices_csv())
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": redis_url,
        "THOK_DATA_DIR": str(tmp_path),
        # A 65k-row batch can pass a second on a loaded machine, and the slow-query log rightly names
        # its SQL (never its parameters): not the leak this test looks for.
        "SLOW_QUERY_SECONDS": "600",
    }
    for args in (["import-products", "products.csv"], ["import-prices", WHOLESALER, "prices.csv"]):
        done = subprocess.run(
            [sys.executable, "-m", "thok", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"{ROWS} rows" in done.stdout
        assert "INSERT INTO" not in done.stderr and "[parameters:" not in done.stderr
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == ROWS
        assert s.scalar(select(func.count()).select_from(WholesalerProduct)) == ROWS
    db.dispose()


def test_a_refused_statement_never_carries_its_parameters(database: Database, caplog: pytest.LogCaptureFixture) -> None:
    """What a failed statement says (in a traceback, a job's failure, a log line) names the SQL but
    not the values: they may be phone numbers, messages, or a whole price list."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DBAPIError) as info, database.engine.connect() as conn:
        conn.execute(text("SELECT length(:secret) / 0"), {"secret": "+9779841999999"})
    assert "division by zero" in str(info.value)
    assert "+9779841999999" not in str(info.value)
    assert "+9779841999999" not in caplog.text
