"""The product catalog and wholesalers' price lists: CSV import, all or nothing.

Every row is validated before anything is written; a bad row stops the import with the file line
(line 1 is the header). The write itself is one transaction of bulk upserts, so a file is either
fully applied or not at all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, String, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from db.models import Product, Wholesaler, WholesalerProduct
from domain.errors import DomainError, InvalidInput, NotFound, OutOfRange, TooManyDecimals, decimal_places
from domain.phones import normalize_phone
from parsing.units import UNITS, convert, pack_for, unit_code

PRODUCT_COLUMNS = ("sku", "name", "name_ne", "aliases", "unit", "category")
PRICE_COLUMNS = ("sku", "price", "stock")
MAX_MONEY = Decimal("999999999999.99")
MAX_QUANTITY = Decimal("99999999999.999")
# Rows per round trip (and per progress step). No statement carries a parameter per row value
# beyond this (PostgreSQL stops at 65,535 a statement): a file of any length is written in as many
# statements, all in the caller's one transaction.
BATCH = 1000
MAX_REPORTED_ERRORS = 50

Progress = Callable[[int], None]


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class CsvImportError(DomainError):
    """The file was refused; nothing of it was written. `errors` name each bad line."""

    code = "csv_refused"

    def __init__(self, source: str, errors: Sequence[RowError]):
        self.source = source
        self.errors = list(errors)
        first = self.errors[0]
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"{source}, {first}{more}; nothing was imported")


@dataclass(frozen=True)
class ImportResult:
    rows: int
    inserted: int
    updated: int


def read_csv(data: bytes | str, source: str, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Decode (UTF-8, BOM tolerated), check the header, and return (file line, row) pairs."""
    if isinstance(data, bytes):
        try:
            content = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise CsvImportError(source, [RowError(line, "is not UTF-8 text (save the file as UTF-8)")]) from None
    else:
        content = data.removeprefix("\ufeff")
    if "\x00" in content:
        raise CsvImportError(source, [RowError(1, "the file contains NUL bytes; is it really a CSV?")])
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvImportError(source, [RowError(1, "the file is empty; expected a header row")]) from None
    except csv.Error as exc:
        raise CsvImportError(source, [RowError(1, f"unreadable CSV ({exc})")]) from None
    header = [h.strip().lower() for h in header]
    missing = [c for c in columns if c not in header]
    if missing:
        raise CsvImportError(
            source, [RowError(1, f"missing column(s) {', '.join(missing)}; expected {','.join(columns)}")]
        )
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    try:
        for fields in reader:
            line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue  # blank lines are harmless
            if len(fields) < len(header):
                errors.append(RowError(line, f"has {len(fields)} field(s), expected {len(header)}"))
                continue
            rows.append((line, {h: (fields[i] or "").strip() for i, h in enumerate(header) if h}))
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, f"unreadable CSV ({exc})"))
    if errors:
        raise CsvImportError(source, errors[:MAX_REPORTED_ERRORS])
    return rows


def _decimal(raw: str, what: str, maximum: Decimal, places: int) -> Decimal:
    try:
        value = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{what} {raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{what} {raw!r} is not a number")
    if value < 0:
        raise ValueError(f"{what} must not be negative (got {raw})")
    if value > maximum:
        raise ValueError(f"{what} {raw} is too large")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValueError(f"{what} {raw} has more than {places} decimal places")
    return value


def _product_row(row: dict[str, str]) -> dict[str, Any]:
    sku = row["sku"].upper()
    if not sku:
        raise ValueError("sku is empty")
    if len(sku) > 64 or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in sku) or sku[0] in "-_":
        raise ValueError(f"sku {row['sku']!r} must be letters, digits, '-' or '_' (at most 64)")
    name = row["name"]
    if not name:
        raise ValueError("name is empty")
    if len(name) > 200 or len(row["name_ne"]) > 200:
        raise ValueError("name is longer than 200 characters")
    # any known spelling of a unit, in any script ("bag", "pkt", "बोरा"): the unit table's
    unit = unit_code(row["unit"]) or ""
    if unit not in UNITS:
        known = ", ".join(UNITS)
        raise ValueError(f"unit {row['unit']!r} is not one of the known units ({known}) or their spellings")
    pack = pack_for(name, unit)
    aliases = [a.strip() for a in row["aliases"].split("|") if a.strip()]
    return {
        "sku": sku,
        "name": name,
        "name_ne": row["name_ne"] or None,
        "aliases": aliases,
        "unit": unit,
        "category": row["category"][:100] or None,
        "pack_size": pack[0] if pack else None,
        "pack_unit": pack[1] if pack else None,
    }


def import_products(
    session: Session, data: bytes | str, source: str = "products.csv", progress: Progress | None = None
) -> ImportResult:
    """Upsert products by sku. Soft-deleted products named in the file come back to life."""
    rows = read_csv(data, source, PRODUCT_COLUMNS)
    parsed: list[dict[str, Any]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        try:
            values = _product_row(row)
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        if values["sku"] in seen:
            errors.append(RowError(line, f"sku {values['sku']} already appears on line {seen[values['sku']]}"))
            continue
        seen[values["sku"]] = line
        parsed.append(values)
    if errors:
        raise CsvImportError(source, errors[:MAX_REPORTED_ERRORS])
    existing = set(
        session.scalars(select(Product.sku).where(Product.sku == any_sku(seen)).execution_options(include_deleted=True))
    )
    for start in range(0, len(parsed), BATCH):
        chunk = parsed[start : start + BATCH]
        stmt = insert(Product)  # the rows go as executemany parameters: compiled once, not per batch
        stmt = stmt.on_conflict_do_update(
            index_elements=[Product.sku],
            set_={
                "name": stmt.excluded.name,
                "name_ne": stmt.excluded.name_ne,
                "aliases": stmt.excluded.aliases,
                "unit": stmt.excluded.unit,
                "category": stmt.excluded.category,
                "pack_size": stmt.excluded.pack_size,
                "pack_unit": stmt.excluded.pack_unit,
                "deleted_at": None,
                "updated_at": func.now(),
            },
        )
        session.execute(stmt, chunk)
        if progress:
            progress(len(chunk))
    return ImportResult(rows=len(parsed), inserted=len(seen.keys() - existing), updated=len(existing))


# One statement per batch with three array parameters, however many rows: unnest() turns them back
# into rows, so neither the 65,535-parameter limit nor a statement per row applies.
_UPSERT_PRICES = text(
    """
    INSERT INTO wholesaler_products (wholesaler_id, product_id, price, stock)
    SELECT :wholesaler_id, line.product_id, line.price, line.stock
    FROM unnest(CAST(:product_ids AS bigint[]), CAST(:prices AS numeric[]), CAST(:stocks AS numeric[]))
        AS line (product_id, price, stock)
    ON CONFLICT (wholesaler_id, product_id) WHERE deleted_at IS NULL
    DO UPDATE SET price = excluded.price, stock = excluded.stock, updated_at = now()
    """
)


def any_sku(skus: Iterable[str]) -> ColumnElement[Any]:
    """`= ANY(:skus)`: one array parameter however long the file. `in_()` would send one parameter
    per sku, and PostgreSQL's protocol stops at 65,535 parameters a statement."""
    return any_(bindparam("skus", list(skus), type_=ARRAY(String)))


def find_wholesaler(session: Session, phone: str) -> Wholesaler:
    number = normalize_phone(phone)
    wholesaler = session.scalars(select(Wholesaler).where(Wholesaler.whatsapp_number == number)).first()
    if wholesaler is None:
        raise NotFound(f"no wholesaler with WhatsApp number {number}")
    return wholesaler


def import_prices(
    session: Session,
    wholesaler_phone: str,
    data: bytes | str,
    source: str = "prices.csv",
    progress: Progress | None = None,
) -> ImportResult:
    """Set one wholesaler's price and stock per sku. Stock below what is already reserved for
    orders is refused per line (the database CHECK would refuse it anyway, without the line)."""
    wholesaler = find_wholesaler(session, wholesaler_phone)
    rows = read_csv(data, source, PRICE_COLUMNS)
    skus = {row["sku"].upper() for _, row in rows}
    products = dict(session.execute(select(Product.sku, Product.id).where(Product.sku == any_sku(skus))).all())
    reserved = dict(
        session.execute(
            select(WholesalerProduct.product_id, WholesalerProduct.reserved_stock).where(
                WholesalerProduct.wholesaler_id == wholesaler.id
            )
        ).all()
    )
    parsed: list[dict[str, Any]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        sku = row["sku"].upper()
        try:
            if not sku:
                raise ValueError("sku is empty")
            if sku not in products:
                raise ValueError(f"unknown sku {row['sku']!r} (import it with import-products first)")
            if sku in seen:
                raise ValueError(f"sku {sku} already appears on line {seen[sku]}")
            price = _decimal(row["price"], "price", MAX_MONEY, 2)
            stock = _decimal(row["stock"], "stock", MAX_QUANTITY, 3)
            held = reserved.get(products[sku], Decimal(0))
            if stock < held:
                raise ValueError(f"stock {stock} is below the {held} already reserved for orders")
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        seen[sku] = line
        parsed.append({"wholesaler_id": wholesaler.id, "product_id": products[sku], "price": price, "stock": stock})
    if errors:
        raise CsvImportError(source, errors[:MAX_REPORTED_ERRORS])
    existing = set(reserved)
    for start in range(0, len(parsed), BATCH):
        chunk = parsed[start : start + BATCH]
        session.execute(
            _UPSERT_PRICES,
            {
                "wholesaler_id": wholesaler.id,
                "product_ids": [r["product_id"] for r in chunk],
                "prices": [r["price"] for r in chunk],
                "stocks": [r["stock"] for r in chunk],
            },
        )
        if progress:
            progress(len(chunk))
    inserted = sum(1 for r in parsed if r["product_id"] not in existing)
    return ImportResult(rows=len(parsed), inserted=inserted, updated=len(parsed) - inserted)


def catalog_entries(session: Session) -> list[tuple[str, str, str | None, tuple[str, ...], str]]:
    """The live catalog as plain tuples (sku, name, name_ne, aliases, unit) for the parser."""
    return [(p.sku, p.name, p.name_ne, p.aliases, p.unit) for p in catalog_products(session)]


@dataclass(frozen=True, slots=True)
class CatalogProduct:
    """What the conversation needs of a live product: the parser's names, and the id, unit and pack
    size a draft line is made of. Plain values, kept per process with the parser's catalog and
    rebuilt when the catalog version changes (handlers.catalog), instead of an ORM row per message."""

    id: int
    sku: str
    name: str
    name_ne: str | None
    aliases: tuple[str, ...]
    unit: str
    pack_size: Decimal | None
    pack_unit: str | None


_CATALOG_PRODUCTS = select(
    Product.id, Product.sku, Product.name, Product.name_ne, Product.aliases, Product.unit, Product.pack_size,
    Product.pack_unit,
).order_by(Product.sku)  # fmt: skip


def catalog_products(session: Session) -> list[CatalogProduct]:
    """Every live product, by sku."""
    return [
        CatalogProduct(r.id, r.sku, r.name, r.name_ne, tuple(r.aliases or ()), r.unit, r.pack_size, r.pack_unit)
        for r in session.execute(_CATALOG_PRODUCTS)
    ]


# --- what the conversation needs -------------------------------------------------------------------


def to_product_unit(
    quantity: Decimal, unit: str, product_unit: str, pack: tuple[Decimal, str] | None = None
) -> Decimal | None:
    """`quantity` `unit` in the product's unit, through the unit table (1 quintal = 100 kg, a dozen
    = 12 pieces) and the product's pack size (5 kg of a 1 kg packet = 5 packets); None when they do
    not convert (kg of rice sold by the bora with no pack size): asked back, not guessed."""
    converted = convert(quantity, unit, product_unit, pack)
    if converted is None:
        return None
    return converted.quantity.quantize(Decimal("0.001"))


_PRODUCTS_BY_SKU = select(Product).where(Product.sku.in_(bindparam("skus", expanding=True)))
_BEST_PRICES = (
    select(WholesalerProduct.product_id, func.min(WholesalerProduct.price))
    .join(Wholesaler, Wholesaler.id == WholesalerProduct.wholesaler_id)
    .where(
        WholesalerProduct.product_id.in_(bindparam("product_ids", expanding=True)),
        WholesalerProduct.is_available,
        WholesalerProduct.stock > WholesalerProduct.reserved_stock,
        Wholesaler.is_active,
    )
    .group_by(WholesalerProduct.product_id)
)  # built once: every order message asks it


def products_by_sku(session: Session, skus: Iterable[str]) -> dict[str, Product]:
    return {p.sku: p for p in session.scalars(_PRODUCTS_BY_SKU, {"skus": list(skus)})}


def best_prices(session: Session, product_ids: Iterable[int]) -> dict[int, Decimal]:
    """The lowest live catalog price per product among active wholesalers with stock: the estimate
    a retailer sees before confirming (the offers decide the real price)."""
    rows = session.execute(_BEST_PRICES, {"product_ids": list(product_ids)}).all()
    return {pid: Decimal(price) for pid, price in rows}


def set_stock(session: Session, wholesaler_id: int, sku: str, quantity: Decimal) -> WholesalerProduct:
    """`STOCK RICE-JEERA 40` from a wholesaler. Refused below what is reserved for orders."""
    if quantity < 0:
        raise InvalidInput("stock cannot be negative")
    if quantity > MAX_QUANTITY:
        raise OutOfRange("stock", MAX_QUANTITY.to_integral_value(rounding=ROUND_DOWN))
    if decimal_places(quantity) > 3:  # NUMERIC(14, 3) would round it silently
        raise TooManyDecimals("stock", 3)
    row = session.scalars(
        select(WholesalerProduct)
        .join(Product, Product.id == WholesalerProduct.product_id)
        .where(WholesalerProduct.wholesaler_id == wholesaler_id, Product.sku == sku)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(
            f"you have no price for {sku} yet; send your price list to Thok first", code="stock_no_price", sku=sku
        )
    if quantity < row.reserved_stock:
        raise InvalidInput(
            f"{row.reserved_stock.normalize()} of {sku} is reserved for orders; stock cannot be less",
            code="stock_below_reserved",
            sku=sku,
            reserved=row.reserved_stock.normalize(),
        )
    row.stock = quantity
    session.flush()
    return row


# Built once: it runs on every message.
# Every product row's id and the transaction and command that last wrote it (xmin, cmin: a new row
# version always has a new pair, even inside one transaction), hashed and summed, with the count:
# any INSERT, UPDATE (soft delete included) or DELETE changes it, whatever the columns
# it set and whenever its transaction began. `max(updated_at)` missed an edit committed after a
# later-stamped one (updated_at is the transaction's start, not its commit) and any write that left
# updated_at alone; the parser's units and pack sizes would then stay stale until the next edit.
_CATALOG_VERSION = text(
    "SELECT count(*), coalesce(sum(hashtextextended(id::text || ':' || xmin::text || ':' || cmin::text, 0)), 0)"
    " FROM products"
)


def catalog_version(session: Session) -> tuple[int, Any]:
    """Changes whenever a product is added, edited or (soft-)deleted: the parser's cache key."""
    row = session.execute(_CATALOG_VERSION).one()  # all rows, deleted ones too (text: no criteria hook)
    return int(row[0]), row[1]
