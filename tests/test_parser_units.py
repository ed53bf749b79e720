"""Units as data (issue 16): one table of units with spellings in three scripts and conversions,
seeded by migration 0010 and equal to the parser's built-in table; imports accept any spelling;
the parser reports a quantity as written, and the order line converts it to the product's unit
or pack (5 kg of a 1 kg packet = 5 packets), saying so."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import OrderDraft, Product, Retailer, UnitRow
from domain.catalog import CsvImportError, import_products, to_product_unit
from handlers import Sender
from handlers.dispatch import handle_message
from parsing.parser import Catalog, decimal_str, parse
from parsing.units import DEFAULT_UNITS, convert, unit_code
from thok.config import Settings
from thok.seed import seed_demo

ROOT = Path(__file__).resolve().parent.parent
HEADER = "sku,name,name_ne,aliases,unit,category\n"


def test_the_seeded_unit_table_is_the_parsers(session: Session) -> None:
    rows = {r.code: r for r in session.scalars(select(UnitRow))}
    assert set(rows) == {u.code for u in DEFAULT_UNITS}
    for u in DEFAULT_UNITS:
        row = rows[u.code]
        assert (row.name_en, row.name_ne, tuple(row.spellings)) == (u.name_en, u.name_ne, u.spellings), u.code
        assert (row.base_code, row.factor, row.approximate) == (u.base, u.factor, u.approximate), u.code
    assert "bag" in rows["bora"].spellings and "पाथी" in rows["pathi"].spellings


@pytest.mark.parametrize(
    ("quantity", "unit", "to", "pack", "expected", "approximate"),
    [
        ("2", "quintal", "kg", None, "200", False),
        ("500", "g", "kg", None, "0.5", False),
        ("3", "dozen", "piece", None, "36", False),
        ("1", "pathi", "mana", None, "8", False),
        ("2", "pathi", "kg", None, "9", True),  # 1 pathi of rice is about 4.5 kg
        ("5", "kg", "packet", ("1", "kg"), "5", False),  # 5 kg of a 1 kg packet product
        ("50", "kg", "bora", ("25", "kg"), "2", False),
        ("500", "g", "packet", ("1", "kg"), "0.5", False),
    ],
)
def test_conversions(
    quantity: str, unit: str, to: str, pack: tuple[str, str] | None, expected: str, approximate: bool
) -> None:
    packed = (Decimal(pack[0]), pack[1]) if pack else None
    got = convert(Decimal(quantity), unit, to, packed)
    assert got is not None and decimal_str(got.quantity) == expected and got.approximate is approximate
    assert convert(Decimal(5), "kg", "bora") is None  # rice by the bora, no pack size: asked, not guessed
    assert convert(Decimal(2), "litre", "kg") is None


def test_the_parser_reports_units_as_written_normalised() -> None:
    catalog = Catalog.from_csv(ROOT / "db" / "demo" / "products.csv")
    for text, unit in [("chini 2 quintal", "quintal"), ("5 pathi mota chamal", "pathi"), ("मसुरो दाल ८ माना", "mana"),
                       ("besar 2 dharni", "dharni"), ("jeera masino 2 bag", "bora")]:  # fmt: skip
        result = parse(text, catalog)
        assert result.intent == "order" and [i.unit for i in result.items] == [unit], text
    assert unit_code("pkt") == "packet" and unit_code("बोरी") == "bora" and unit_code("bucket") is None


def test_a_catalog_may_spell_its_units_its_own_way() -> None:
    catalog = Catalog.from_rows(
        [
            {"sku": "BISC-A", "name": "Arrowroot Biscuit", "unit": "pkt", "aliases": "arrowroot"},
            {"sku": "RICE-M", "name": "Mansuli (25 kg)", "unit": "bag", "aliases": "mansuli"},
        ]
    )
    assert catalog.unit_of("BISC-A") == "packet" and catalog.unit_of("RICE-M") == "bora"
    assert [(i.sku, i.unit) for i in parse("mansuli 3 bag", catalog).items] == [("RICE-M", "bora")]


def test_import_accepts_any_spelling_and_reads_the_pack_size(session: Session) -> None:
    body = HEADER + "RICE-M,Mansuli Rice (25 kg),,mansuli,bag,rice\nDET-X,Xcel Powder 1kg,,xcel,pkt,det\n"
    body += "DAL-Y,Yellow Dal,,,केजी,dal\n"
    import_products(session, body.encode("utf-8"), "p.csv")
    got = {p.sku: (p.unit, p.pack_size, p.pack_unit) for p in session.scalars(select(Product))}
    assert got["RICE-M"] == ("bora", Decimal(25), "kg")
    assert got["DET-X"] == ("packet", Decimal(1), "kg")
    assert got["DAL-Y"] == ("kg", None, None)  # sold by the kg: no pack
    assert to_product_unit(Decimal(50), "kg", "bora", (Decimal(25), "kg")) == Decimal(2)


def test_import_names_the_line_of_an_unknown_unit(session: Session) -> None:
    body = HEADER + "RICE-M,Mansuli,,,bag,rice\nOIL-Z,Oil,,,bucket,oil\n"
    with pytest.raises(CsvImportError) as info:
        import_products(session, body.encode("utf-8"), "p.csv")
    assert info.value.errors[0].line == 3 and "'bucket'" in info.value.errors[0].message


def test_the_order_line_converts_to_the_pack_and_says_so(session: Session, settings: Settings) -> None:
    seed_demo(session)
    surf = session.scalars(select(Product).where(Product.sku == "DET-SURF")).one()  # "Surf Excel (1kg)", packet
    surf.pack_size, surf.pack_unit = Decimal(1), "kg"
    session.flush()
    suresh = session.scalars(select(Retailer).where(Retailer.whatsapp_number == "+9779841000103")).one()
    sender = Sender(kind="retailer", phone=suresh.whatsapp_number, id=suresh.id, language="en", name=suresh.name)
    reply = "\n".join(r.body for r in handle_message(session, sender, "surf excel 5 kg", settings))
    assert "5 kg of Surf Excel (1kg) is 5 packet" in reply, reply
    draft = session.scalars(select(OrderDraft)).one()
    lines = [e for e in draft.items if e.get("type", "line") == "line"]
    assert [(e["sku"], Decimal(e["quantity"]), e["unit"]) for e in lines] == [("DET-SURF", Decimal(5), "packet")]
    reply = "\n".join(r.body for r in handle_message(session, sender, "chini 2 quintal", settings))
    assert "2 quintal of Sugar is 200 kg" in reply, reply
