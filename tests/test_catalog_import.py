"""CSV imports: valid files upsert, and any bad line stops the whole file with its line number."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from db.models import Product, WholesalerProduct
from domain.catalog import CsvImportError, import_prices, import_products
from domain.errors import NotFound
from domain.parties import register_wholesaler

HEADER = "sku,name,name_ne,aliases,unit,category\n"
GOOD = (
    HEADER
    + "RICE-JEERA,Jeera Masino Rice,जीरा मसिनो चामल,jeera masino|jira masino,bora,rice\n"
    + "SPICE-JEERA,Jeera (Cumin),जीरा,jeera|jira,kg,spices\n"
)


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_import_products_reads_devanagari_and_aliases(session: Session) -> None:
    result = import_products(session, GOOD.encode("utf-8"), "p.csv")
    assert (result.rows, result.inserted, result.updated) == (2, 2, 0)
    rice = session.scalars(select(Product).where(Product.sku == "RICE-JEERA")).one()
    assert rice.name_ne == "जीरा मसिनो चामल"
    assert rice.aliases == ["jeera masino", "jira masino"]
    assert rice.unit == "bora"


def test_import_products_upserts_by_sku(session: Session) -> None:
    import_products(session, GOOD, "p.csv")
    changed = HEADER + "RICE-JEERA,Jeera Masino Premium,,jeera masino,bora,rice\n"
    result = import_products(session, changed, "p.csv")
    assert (result.inserted, result.updated) == (0, 1)
    assert count(session, Product) == 2
    assert (
        session.scalars(select(Product.name).where(Product.sku == "RICE-JEERA")).one()
        == "Jeera Masino Premium"
    )


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        (GOOD + "SALT,Salt,,,spoon,staples\n", 4, "unit 'spoon' is not one of"),
        (GOOD + ",No sku,,,kg,x\n", 4, "sku is empty"),
        (GOOD + "SUGAR,,,,kg,x\n", 4, "name is empty"),
        (GOOD + "RICE-JEERA,Twice,,,bora,rice\n", 4, "already appears on line 2"),
        (GOOD + "SUGAR,Sugar,चिनी\n", 4, "has 3 field(s), expected 6"),
        ("sku,name,unit\nSUGAR,Sugar,kg\n", 1, "missing column(s) name_ne, aliases, category"),
        ("", 1, "the file is empty"),
        (GOOD + "BAD SKU!,Sugar,,,kg,x\n", 4, "must be letters, digits"),
    ],
)
def test_a_bad_product_line_stops_the_whole_file(session: Session, body: str, line: int, reason: str) -> None:
    with pytest.raises(CsvImportError) as info:
        import_products(session, body.encode("utf-8"), "p.csv")
    assert info.value.errors[0].line == line
    assert reason in info.value.errors[0].message
    assert str(info.value).startswith(f"p.csv, line {line}: ")
    assert count(session, Product) == 0  # nothing of that file was written


def test_non_utf8_names_the_line(session: Session) -> None:
    data = GOOD.encode("utf-8") + "SUGAR,Chini,चिनी,,kg,x\n".encode("utf-16")
    with pytest.raises(CsvImportError) as info:
        import_products(session, data, "p.csv")
    assert info.value.errors[0].line == 4
    assert "not UTF-8" in info.value.errors[0].message
    assert count(session, Product) == 0


def test_every_bad_line_is_reported(session: Session) -> None:
    body = GOOD + "A1,Ok,,,kg,x\nB1,Bad,,,spoons,x\nC1,,,,kg,x\n"  # "litres" is a spelling of litre now
    with pytest.raises(CsvImportError) as info:
        import_products(session, body, "p.csv")
    assert [e.line for e in info.value.errors] == [5, 6]


@pytest.fixture
def priced(session: Session) -> int:
    import_products(session, GOOD, "p.csv")
    return register_wholesaler(session, name="Ram", phone="9851000001", district="Kathmandu").id


def test_import_prices_for_one_wholesaler(session: Session, priced: int) -> None:
    result = import_prices(
        session, "+977 985-1000001", 'sku,price,stock\nrice-jeera,"2,400",40\nSPICE-JEERA,650.50,12.5\n'
    )
    assert (result.rows, result.inserted) == (2, 2)
    rows = {
        wp.product.sku: (wp.price, wp.stock)
        for wp in session.scalars(select(WholesalerProduct).where(WholesalerProduct.wholesaler_id == priced))
    }
    assert rows == {
        "RICE-JEERA": (Decimal("2400.00"), Decimal("40.000")),
        "SPICE-JEERA": (Decimal("650.50"), Decimal("12.500")),
    }
    again = import_prices(session, "9851000001", "sku,price,stock\nRICE-JEERA,2350,35\n")
    assert (again.inserted, again.updated) == (0, 1)
    assert count(session, WholesalerProduct) == 2


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("BOGUS,100,1", "unknown sku 'BOGUS'"),
        ("RICE-JEERA,100,-1", "stock must not be negative"),
        ("RICE-JEERA,abc,1", "price 'abc' is not a number"),
        ("RICE-JEERA,NaN,1", "is not a number"),
        ("RICE-JEERA,10.123,1", "more than 2 decimal places"),
        ("RICE-JEERA,10", "has 2 field(s), expected 3"),
    ],
)
def test_a_bad_price_line_stops_the_whole_file(session: Session, priced: int, line: str, reason: str) -> None:
    body = f"sku,price,stock\nSPICE-JEERA,650,10\n{line}\n"
    with pytest.raises(CsvImportError) as info:
        import_prices(session, "9851000001", body, "prices.csv")
    assert info.value.errors[0].line == 3
    assert reason in info.value.errors[0].message
    assert count(session, WholesalerProduct) == 0


def test_stock_below_reservations_is_refused_with_its_line(session: Session, priced: int) -> None:
    import_prices(session, "9851000001", "sku,price,stock\nRICE-JEERA,2400,40\n")
    session.execute(text("UPDATE wholesaler_products SET reserved_stock = 30"))
    with pytest.raises(CsvImportError, match="line 2: stock 20 is below the 30.000 already reserved"):
        import_prices(session, "9851000001", "sku,price,stock\nRICE-JEERA,2400,20\n")


def test_import_prices_for_an_unknown_wholesaler(session: Session) -> None:
    with pytest.raises(NotFound, match=r"no wholesaler with WhatsApp number \+9779800000000"):
        import_prices(session, "9800000000", "sku,price,stock\n")
