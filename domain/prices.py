"""What a retailer asks before ordering: today's best price of a product where they are, and the
order they had delivered last (for "same as last time")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session, selectinload

from db.models import Order, OrderItem, OrderStatus, Retailer, Wholesaler, WholesalerProduct


@dataclass(frozen=True)
class BestPrice:
    product_id: int
    price: Decimal  # per the product's unit
    local: bool  # from a wholesaler in the retailer's district (else: the best anywhere)


def best_prices_for(session: Session, retailer_id: int, product_ids: Iterable[int]) -> dict[int, BestPrice]:
    """The lowest live price per product among active wholesalers with stock to sell, those in the
    retailer's district first; a product nobody there has gets the best price elsewhere, marked."""
    ids = list(product_ids)
    if not ids:
        return {}
    district = session.scalar(select(Retailer.district).where(Retailer.id == retailer_id))
    in_district = and_(literal(district).is_not(None), Wholesaler.district == literal(district))
    rows = session.execute(
        select(
            WholesalerProduct.product_id,
            func.min(case((in_district, WholesalerProduct.price))).label("local"),
            func.min(WholesalerProduct.price).label("anywhere"),
        )
        .join(Wholesaler, Wholesaler.id == WholesalerProduct.wholesaler_id)
        .where(
            WholesalerProduct.product_id.in_(ids),
            WholesalerProduct.is_available,
            WholesalerProduct.deleted_at.is_(None),
            WholesalerProduct.stock > WholesalerProduct.reserved_stock,
            Wholesaler.is_active,
            Wholesaler.deleted_at.is_(None),
        )
        .group_by(WholesalerProduct.product_id)
    ).all()
    out: dict[int, BestPrice] = {}
    for row in rows:
        if row.local is not None:
            out[row.product_id] = BestPrice(row.product_id, Decimal(row.local), True)
        else:
            out[row.product_id] = BestPrice(row.product_id, Decimal(row.anywhere), False)
    return out


def last_delivered_order(session: Session, retailer_id: int) -> Order | None:
    """The retailer's most recently delivered order, with its lines and their products."""
    return session.scalars(
        select(Order)
        .where(Order.retailer_id == retailer_id, Order.status == OrderStatus.DELIVERED, Order.deleted_at.is_(None))
        .options(selectinload(Order.items).selectinload(OrderItem.product))
        .order_by(Order.delivered_at.desc().nulls_last(), Order.id.desc())
        .limit(1)
    ).first()
