"""`thok seed --demo`: a realistic Nepali kirana market to try Thok on. Idempotent: running it
again adds only what is missing and never overwrites prices, stock or balances in use."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Admin, Language, Product, Retailer, Wholesaler, WholesalerProduct
from domain.catalog import import_products
from domain.parties import create_admin, register_retailer, register_wholesaler

DEMO_DIR = Path(__file__).resolve().parent.parent / "db" / "demo"
DEMO_ADMIN_EMAIL = "admin@thok.local"
DEMO_ADMIN_PASSWORD = "thok-demo-admin"  # printed by `thok demo`; never used outside the demo

# name, business, phone, district, language
WHOLESALERS: list[tuple[str, str, str, str, Language | None]] = [
    ("Ram Prasad Shrestha", "Shrestha Traders", "+9779851000001", "Kathmandu", Language.NE),
    ("Sita Maharjan", "Maharjan Wholesale", "+9779851000002", "Lalitpur", Language.NE),
    ("Hari Bahadur Gurung", "Pokhara Kirana Supply", "+9779856000003", "Kaski", Language.EN),
    ("Gita Thapa", "Chitwan Grain House", "+9779855000004", "Chitwan", Language.NE),
    ("Bikash Rai", "Rai Suppliers", "+9779852000005", "Morang", Language.EN),
]
# name, shop, phone, district, language, credit limit
RETAILERS: list[tuple[str, str, str, str, Language | None, int]] = [
    ("Krishna Adhikari", "Adhikari Kirana Pasal", "+9779841000101", "Kathmandu", Language.NE, 50000),
    ("Maya Tamang", "Maya General Store", "+9779841000102", "Kathmandu", None, 30000),
    ("Suresh KC", "KC Mart", "+9779841000103", "Lalitpur", Language.EN, 75000),
    ("Anita Poudel", "Poudel Pasal", "+9779846000104", "Kaski", Language.NE, 40000),
    ("Dipak Chaudhary", "Chaudhary Kirana", "+9779845000105", "Chitwan", None, 25000),
    ("Sunita Limbu", "Limbu Store", "+9779842000106", "Morang", Language.EN, 35000),
]


@dataclass
class SeedResult:
    products: int = 0
    wholesalers: int = 0
    retailers: int = 0
    price_rows: int = 0
    admin_created: bool = False


def _spread(key: str, low: float, high: float) -> float:
    """Deterministic per-key variation, so every seed builds the same market."""
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") / 0xFFFFFFFF
    return low + (high - low) * h


def seed_demo(session: Session) -> SeedResult:
    result = SeedResult()
    existing = set(session.scalars(select(Product.sku)))
    imported = import_products(session, (DEMO_DIR / "products.csv").read_bytes(), "products.csv")
    result.products = imported.inserted if existing else imported.rows

    with (DEMO_DIR / "base_prices.csv").open(encoding="utf-8") as fh:
        base = {row["sku"]: Decimal(row["base_price"]) for row in csv.DictReader(fh)}
    products = dict(session.execute(select(Product.sku, Product.id)).all())

    for name, business, phone, district, lang in WHOLESALERS:
        wholesaler = session.scalars(select(Wholesaler).where(Wholesaler.whatsapp_number == phone)).first()
        if wholesaler is None:
            wholesaler = register_wholesaler(
                session, name=name, phone=phone, business_name=business, district=district, language=lang
            )
            result.wholesalers += 1
        priced = set(
            session.scalars(
                select(WholesalerProduct.product_id).where(WholesalerProduct.wholesaler_id == wholesaler.id)
            )
        )
        for sku, product_id in products.items():
            # Each wholesaler carries most of the range; prices differ by a few percent.
            if product_id in priced or sku not in base or _spread(phone + sku, 0, 1) > 0.85:
                continue
            price = (base[sku] * Decimal(str(round(_spread(sku + phone, 0.94, 1.08), 3)))).quantize(
                Decimal("1")
            )
            stock = Decimal(int(_spread(phone + sku + "stock", 20, 400)))
            session.add(
                WholesalerProduct(
                    wholesaler_id=wholesaler.id, product_id=product_id, price=price, stock=stock
                )
            )
            result.price_rows += 1

    for name, shop, phone, district, lang, limit in RETAILERS:
        if session.scalars(select(Retailer.id).where(Retailer.whatsapp_number == phone)).first():
            continue
        register_retailer(
            session,
            name=name,
            phone=phone,
            shop_name=shop,
            district=district,
            language=lang,
            credit_limit=Decimal(limit),
        )
        result.retailers += 1

    if not session.scalars(select(Admin.id).where(Admin.email == DEMO_ADMIN_EMAIL)).first():
        create_admin(session, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD)
        result.admin_created = True
    session.flush()
    return result


def is_empty(session: Session) -> bool:
    return session.scalars(select(Product.id).limit(1)).first() is None
