"""`thok seed --demo`: a realistic Nepali kirana market to try Thok on. Idempotent: running it
again adds only what is missing and never overwrites prices, stock or balances in use."""

from __future__ import annotations

import csv
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from db.models import (
    ActorType,
    Admin,
    AuditLog,
    Language,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    Retailer,
    StockReservation,
    VendorOffer,
    Wholesaler,
    WholesalerProduct,
)
from domain.catalog import import_products
from domain.credit import owed_to_wholesaler
from domain.errors import DomainError
from domain.events import take_events, take_notices
from domain.fulfilment import cancel_order, confirm_winner, mark_delivered, mark_dispatched
from domain.khata_payments import record_payment
from domain.offers import OrderLine, pass_offer, place_order, submit_offer
from domain.parties import create_admin, register_retailer, register_wholesaler
from domain.selection import close_offer_window
from parsing.payment_methods import PaymentMethod
from thok.config import Settings

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
    orders: int = 0
    payments: int = 0


def _spread(key: str, low: float, high: float) -> float:
    """Deterministic per-key variation, so every seed builds the same market."""
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") / 0xFFFFFFFF
    return low + (high - low) * h


def seed_demo(session: Session, settings: Settings | None = None, *, history: bool = False) -> SeedResult:
    """The market; with `history` (what `thok seed --demo` and `thok demo` ask for) also its last
    four weeks of trade. Tests that build on the bare market leave it off."""
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
            price = (base[sku] * Decimal(str(round(_spread(sku + phone, 0.94, 1.08), 3)))).quantize(Decimal("1"))
            stock = Decimal(int(_spread(phone + sku + "stock", 20, 400)))
            session.add(WholesalerProduct(wholesaler_id=wholesaler.id, product_id=product_id, price=price, stock=stock))
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
    if history:
        result.orders, result.payments = _seed_history(session, settings or Settings())
    return result


def is_empty(session: Session) -> bool:
    return session.scalars(select(Product.id).limit(1)).first() is None


# --- a few weeks of trade ------------------------------------------------------------------------

HISTORY_DAYS = 28
HISTORY_ORDERS = 30
HISTORY_SEED = 2082  # the BS year the history falls in: any fixed number builds the same weeks


def _seed_history(session: Session, settings: Settings) -> tuple[int, int]:
    """Orders, offers, deliveries and payments over the last four weeks, through the use cases the
    chat and the worker run, so the dashboard, khata pages and statements open on a living market.

    Only on a market with no orders yet: history written beside real trade would be invented
    trade, and a second seed adds nothing. The use cases stamp the wall clock where they take no
    `now`; those stamps are moved back afterwards on the order's own rows. Ledger entries cannot
    be: the ledger is append-only (its triggers refuse UPDATE) and ledger_post stamps now(), so the
    history's DEBITs and CREDITs all carry the seed's time; what they add up to is what the orders
    and payments say, and `thok check` agrees."""
    if session.scalar(select(Order.id).limit(1).execution_options(include_deleted=True)) is not None:
        return 0, 0
    rng = random.Random(HISTORY_SEED)
    clock = datetime.now(UTC).replace(microsecond=0)
    phones = [phone for _, _, phone, _, _, _ in RETAILERS]
    retailers = list(
        session.scalars(select(Retailer).where(Retailer.whatsapp_number.in_(phones)).order_by(Retailer.id))
    )
    admin_id = session.scalar(select(Admin.id).where(Admin.email == DEMO_ADMIN_EMAIL))
    # Products at least two wholesalers sell, so offers compete.
    shared = list(
        session.scalars(
            select(WholesalerProduct.product_id)
            .group_by(WholesalerProduct.product_id)
            .having(func.count() >= 2)
            .order_by(func.min(WholesalerProduct.price), WholesalerProduct.product_id)
        )
    )
    if not retailers or len(shared) < 3:
        return 0, 0
    # Shop hours in Nepal (UTC+5:45): 08:00-19:00 local is 02:15-13:15 UTC.
    starts = sorted(
        (clock - timedelta(days=rng.uniform(2, HISTORY_DAYS))).replace(
            hour=2 + rng.randrange(11), minute=rng.randrange(60), second=0
        )
        for _ in range(HISTORY_ORDERS - 4)
    )
    # The last few are from yesterday and today, so some orders are still confirmed or on the road.
    starts += [clock - timedelta(hours=h) for h in (38, 29, 17, 6)]
    orders = payments = 0
    for n, placed_at in enumerate(starts):
        retailer = retailers[n % len(retailers)] if n < len(retailers) else rng.choice(retailers)
        lines = [
            OrderLine(product_id, Decimal(rng.randint(1, 4)), raw_text=None)
            for product_id in rng.sample(shared, rng.randint(1, 3))
        ]
        try:
            order = _trade_one(session, settings, rng, retailer, lines, placed_at, clock)
        except DomainError:
            continue  # e.g. a shop at its credit limit: the chat would have refused it too
        orders += 1
        if order.status is OrderStatus.DELIVERED and rng.random() < 0.7:
            payments += _pay_some(session, rng, order, admin_id, clock)
    # History is told to nobody: the notices and timers its use cases asked for are dropped.
    take_notices(session), take_events(session)
    session.flush()
    return orders, payments


def _trade_one(
    session: Session,
    settings: Settings,
    rng: random.Random,
    retailer: Retailer,
    lines: list[OrderLine],
    placed_at: datetime,
    clock: datetime,
) -> Order:
    """One order's life as the chat and the worker would have lived it, ending where its age and
    the dice say: most delivered, some still on the way or just confirmed, a few cancelled or with
    nobody offering."""
    order = place_order(session, retailer, lines, settings, now=placed_at)
    age = clock - placed_at
    fate = rng.random() if age > timedelta(days=2) else 0.9  # the newest ones went through
    window_end = placed_at + timedelta(seconds=settings.offer_window_seconds)
    offers = list(session.scalars(select(VendorOffer).where(VendorOffer.order_id == order.id).order_by(VendorOffer.id)))
    if fate < 0.06:
        cancel_order(session, order.id, actor_type=ActorType.RETAILER, actor_id=retailer.id, reason="changed my mind")
        _backdate(session, order, {"cancelled_at": placed_at + timedelta(minutes=2)}, placed_at)
        return order
    if fate < 0.12:  # every invited wholesaler passes: the order expires
        for i, offer in enumerate(offers):
            pass_offer(session, offer.wholesaler_id, order.ref, now=placed_at + timedelta(minutes=1 + i))
        close_offer_window(session, order.id, settings, source="seed", now=window_end)
        _backdate(session, order, {}, placed_at)
        return order
    for i, offer in enumerate(offers):
        answered = placed_at + timedelta(seconds=40 + 35 * i)
        if rng.random() < 0.25:
            pass_offer(session, offer.wholesaler_id, order.ref, now=answered)
            continue
        # Each quotes a little under its catalog total: that is what the window is for.
        price = (offer.total_price * Decimal(str(round(rng.uniform(0.93, 1.0), 3)))).quantize(Decimal("1"))
        submit_offer(session, offer.wholesaler_id, order.ref, price, rng.choice((0, 1, 1, 2)), now=answered)
    decision = close_offer_window(session, order.id, settings, source="seed", now=window_end)
    if decision.outcome != "won":
        _backdate(session, order, {}, placed_at)
        return order
    assert decision.wholesaler_id is not None
    confirm_winner(session, decision.wholesaler_id, order.ref, settings)
    stamps = {"confirmed_at": window_end + timedelta(minutes=rng.randint(3, 50))}
    # The newest orders are still moving: confirmed this morning, on the road since yesterday.
    if age > timedelta(days=1) and fate < 0.16:
        cancel_order(session, order.id, actor_type=ActorType.ADMIN, actor_id=None, reason="shop closed that week")
        stamps["cancelled_at"] = stamps["confirmed_at"] + timedelta(hours=3)
    elif age > timedelta(hours=12):
        mark_dispatched(session, order, actor_type=ActorType.WHOLESALER, actor_id=decision.wholesaler_id)
        stamps["dispatched_at"] = stamps["confirmed_at"] + timedelta(hours=rng.randint(2, 20))
        if age > timedelta(days=3):
            mark_delivered(session, order, actor_type=ActorType.WHOLESALER, actor_id=decision.wholesaler_id)
            stamps["delivered_at"] = stamps["dispatched_at"] + timedelta(hours=rng.randint(4, 30))
    _backdate(session, order, stamps, placed_at)
    return order


def _backdate(session: Session, order: Order, stamps: dict[str, datetime], placed_at: datetime) -> None:
    """Move the wall-clock stamps of one historical order (and its offers, items, audit trail and
    reservations) back to when it happened."""
    for column, moment in stamps.items():
        setattr(order, column, moment)
    last = max([placed_at, *stamps.values()])
    order.created_at, order.updated_at = placed_at, last
    if order.accept_deadline_at is not None and order.decided_at is not None:
        order.accept_deadline_at = order.decided_at + timedelta(seconds=900)
    session.flush()
    session.execute(update(OrderItem).where(OrderItem.order_id == order.id).values(created_at=placed_at))
    session.execute(
        update(VendorOffer)
        .where(VendorOffer.order_id == order.id)
        .values(invited_at=placed_at, created_at=placed_at, updated_at=func.coalesce(VendorOffer.decided_at, placed_at))
    )
    session.execute(
        update(StockReservation)
        .where(StockReservation.order_id == order.id)
        .values(created_at=placed_at, closed_at=case((StockReservation.closed_at.is_(None), None), else_=last))
    )
    # The trail in the order it happened: creation, then each transition at its own stamp.
    by_status = {
        OrderStatus.WHOLESALER_SELECTED.value: order.decided_at,
        OrderStatus.EXPIRED.value: placed_at + timedelta(minutes=5),
        **{
            s.value: stamps.get(f"{s.value.lower()}_at")
            for s in (OrderStatus.CONFIRMED, OrderStatus.DISPATCHED, OrderStatus.DELIVERED, OrderStatus.CANCELLED)
        },
    }
    for entry in session.scalars(select(AuditLog).where(AuditLog.order_id == order.id)):
        entry.created_at = by_status.get(entry.to_status or "") or placed_at
    session.flush()


def _pay_some(session: Session, rng: random.Random, order: Order, admin_id: int | None, clock: datetime) -> int:
    """The shop pays the winner part or all of what it owes: cash the wholesaler records, or eSewa,
    Khalti or a bank transfer an admin books with the wallet's reference."""
    assert order.final_wholesaler_id is not None and order.delivered_at is not None
    owed = owed_to_wholesaler(session, order.retailer_id, order.final_wholesaler_id)
    # Round hundreds, as people pay; all of it when that is less than a hundred short.
    amount = min((owed * Decimal(str(rng.choice((0.5, 0.75, 1, 1)))) / 100).to_integral_value() * 100, owed)
    if amount <= 0:
        return 0
    method = rng.choice(
        (PaymentMethod.CASH, PaymentMethod.CASH, PaymentMethod.ESEWA, PaymentMethod.KHALTI, PaymentMethod.BANK_TRANSFER)
    )
    paid_at = min(order.delivered_at + timedelta(days=rng.uniform(0.5, 6)), clock - timedelta(hours=1))
    if method is PaymentMethod.CASH or admin_id is None:
        payment, _ = record_payment(
            session,
            retailer_id=order.retailer_id,
            amount=amount,
            method=PaymentMethod.CASH,
            reference=None,
            recorded_by_wholesaler_id=order.final_wholesaler_id,
            idempotency_key=f"demo:payment:{order.id}",
        )
    else:
        payment, _ = record_payment(
            session,
            retailer_id=order.retailer_id,
            amount=amount,
            method=method,
            reference=f"DEMO-{method.value[:3]}-{order.ref}",
            recorded_by_admin_id=admin_id,
            wholesaler_id=order.final_wholesaler_id,
        )
    payment.received_at = payment.created_at = paid_at
    session.flush()
    return 1
