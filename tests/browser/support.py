"""What both dashboard suites need: the app on a seeded database, a viewer, and orders in each
state, made through the same domain services the bot uses (no fixtures written as raw rows)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask import Flask
from redis import Redis
from sqlalchemy import select

from bot.app import create_app
from db.models import AdminRole, OfferStatus, Order, Product, Retailer, VendorOffer
from db.session import Database
from domain import fulfilment, selection
from domain.events import take_events, take_notices
from domain.offers import OrderLine, place_order
from domain.parties import create_admin
from thok.config import Settings
from thok.seed import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, seed_demo

ADMIN = (DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD)
VIEWER = ("viewer@thok.local", "viewer-password-1")
RETAILER_PHONE = "+9779841000101"  # Adhikari Kirana Pasal, Kathmandu, NPR 50,000 of credit
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def seed(database: Database) -> None:
    with database.unit_of_work() as uow:
        seed_demo(uow.session)
        create_admin(uow.session, VIEWER[0], VIEWER[1], AdminRole.VIEWER)
        uow.commit()


def build_app(settings: Settings, database: Database, redis: Redis, **config: object) -> Flask:
    return create_app(settings.with_overrides(database_url=database.url), database=database, redis=redis, **config)


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def place_demo_order(database: Database, settings: Settings, stage: str = "open") -> tuple[int, str]:
    """An order by the demo retailer for 2 bora of Jeera rice: `open` (offers pending), `selected`
    (a winner chosen) or `confirmed` (the winner accepted; the khata has its DEBIT)."""
    with database.unit_of_work() as uow:
        s = uow.session
        retailer = s.scalars(select(Retailer).where(Retailer.whatsapp_number == RETAILER_PHONE)).one()
        rice = s.scalars(select(Product).where(Product.sku == "RICE-JEERA")).one()
        order = place_order(s, retailer, [OrderLine(rice.id, Decimal(2))], settings)
        if stage in ("selected", "confirmed"):
            result = selection.pick_winner(s, order.id, settings, source="test")
            assert result.outcome == "won", result
            if stage == "confirmed":
                fulfilment.confirm_winner(s, result.wholesaler_id, order.ref, settings)  # type: ignore[arg-type]
        take_notices(s), take_events(s)  # no worker in these tests: the messages are not the point
        uow.commit()
        return order.id, order.ref


def detached(database: Database, stmt: Any) -> list[Any]:
    """Rows read and detached before the read-only session's rollback would expire them."""
    with database.session() as s:
        rows = list(s.scalars(stmt))
        s.expunge_all()
        return rows


def offers_of(database: Database, order_id: int) -> list[VendorOffer]:
    return detached(database, select(VendorOffer).where(VendorOffer.order_id == order_id).order_by(VendorOffer.id))


def order_status(database: Database, order_id: int) -> str:
    with database.session() as s:
        return s.scalars(select(Order.status).where(Order.id == order_id)).one().value


def winner_offer(database: Database, order_id: int) -> VendorOffer | None:
    return next((o for o in offers_of(database, order_id) if o.status is OfferStatus.WON), None)
