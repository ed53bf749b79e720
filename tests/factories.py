"""Small builders for a market on the real database, through the domain services."""

from __future__ import annotations

import itertools
from decimal import Decimal

from sqlalchemy.orm import Session

from db.models import Product, Retailer, Wholesaler, WholesalerProduct
from domain.parties import register_retailer, register_wholesaler

_numbers = itertools.count(1000)


def phone(prefix: str = "98410") -> str:
    return f"+977{prefix}{next(_numbers):05d}"


def product(session: Session, sku: str, name: str | None = None, unit: str = "bora") -> Product:
    p = Product(sku=sku, name=name or sku.title(), unit=unit, aliases=[])
    session.add(p)
    session.flush()
    return p


def wholesaler(session: Session, name: str = "Ram", district: str | None = "Kathmandu") -> Wholesaler:
    return register_wholesaler(session, name=name, phone=phone("98510"), district=district)


def retailer(
    session: Session, name: str = "Krishna", district: str | None = "Kathmandu", limit: int = 100_000
) -> Retailer:
    return register_retailer(session, name=name, phone=phone(), district=district, credit_limit=Decimal(limit))


def price(session: Session, w: Wholesaler, p: Product, price: int | str, stock: int | str) -> WholesalerProduct:
    row = WholesalerProduct(wholesaler_id=w.id, product_id=p.id, price=Decimal(price), stock=Decimal(stock))
    session.add(row)
    session.flush()
    return row
