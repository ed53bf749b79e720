"""Placing an order and collecting wholesalers' offers.

A confirmed order is put at once to the wholesalers who can serve all of it (live, active, every
item priced and in stock, the retailer's district first), each with a catalog-price offer. During
the offer window they may improve it (`OFFER TK-7F3K 5400 tomorrow`), take it as it is
(`ACCEPT TK-7F3K`) or decline (`PASS TK-7F3K`); the window closes on its timer or as soon as every
invited wholesaler has answered. The decision itself is `domain.selection`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Table, bindparam, exists, insert, select, text
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from db.models import (
    ActorType,
    OfferStatus,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    Retailer,
    VendorOffer,
)
from domain.credit import hold_credit
from domain.errors import DomainError, InvalidInput, NotFound, OutOfRange, TooManyDecimals, decimal_places
from domain.events import Notice, OfferWindowOpened, OfferWindowReady, notify, record_event
from domain.money import MAX_AMOUNT, npr
from domain.orders import find_order, lock_order, new_order_ref

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class OfferRules(Protocol):
    """The settings an order's offer round needs (thok.config.Settings has them; the domain does not
    import the process's configuration)."""

    @property
    def offer_window_seconds(self) -> int: ...

    @property
    def max_invites(self) -> int: ...


OPEN_OFFER = (OfferStatus.PENDING, OfferStatus.SUBMITTED)
MAX_DELIVERY_DAYS = 60


@dataclass(frozen=True)
class OrderLine:
    product_id: int
    quantity: Decimal  # in the product's unit
    raw_text: str | None = None


class NoWholesalerAvailable(DomainError):
    code = "no_wholesaler"


class LateOffer(DomainError):
    """The window has closed (or the order moved on): the answer is refused politely."""

    code = "offer_late"

    def __init__(self, order: Order):
        super().__init__(f"the offer window for {order.ref} has closed ({order.status.value})")
        self.ref = self.order_ref = order.ref


class NotInvited(DomainError):
    code = "not_invited"


# Wholesalers who sell every line with enough available stock, with their catalog total. The lines
# come as arrays (product ids, quantities as order_items stores them), so the invitations are known
# before anything is written.
_ELIGIBLE = text(
    """
    SELECT wp.wholesaler_id, sum(wp.price * i.quantity) AS total, (w.district = :district) AS local
    FROM unnest(CAST(:product_ids AS bigint[]), CAST(:quantities AS numeric(14, 3)[])) AS i(product_id, quantity)
    JOIN wholesaler_products wp ON wp.product_id = i.product_id AND wp.deleted_at IS NULL
         AND wp.is_available AND wp.stock - wp.reserved_stock >= i.quantity
    JOIN wholesalers w ON w.id = wp.wholesaler_id AND w.deleted_at IS NULL AND w.is_active
    GROUP BY wp.wholesaler_id, w.district
    HAVING count(*) = :lines
    ORDER BY (w.district = :district) DESC NULLS LAST, total, wp.wholesaler_id
    LIMIT :limit
    """
)
_UNITS = select(Product.id, Product.unit).where(Product.id.in_(bindparam("ids", expanding=True)))
# The order, its items, its invitations and its `order.created` audit row: Core statements on the
# session's connection, each RETURNING every column, the rows then made the session's persistent
# objects as a query would have loaded them (`_loaded`). The ORM's bulk INSERT ... RETURNING cost
# several times the statements themselves (about 8% of the jobs' CPU). Items and offers go as one
# JSON document each (one fixed text and parameter whatever their number; quantities and prices as
# strings, read by numeric's own input); the audit row rides with the offers.
_ORDERS, _ITEMS, _OFFERS = (cast(Table, model.__table__) for model in (Order, OrderItem, VendorOffer))


def _returning(table: Table) -> str:
    return ", ".join(column.name for column in table.c)


_INSERT_ORDER = insert(_ORDERS).returning(*_ORDERS.c)
_INSERT_ITEMS = text(
    f"""
    INSERT INTO order_items (order_id, product_id, quantity, unit, raw_text)
    SELECT :order_id, * FROM jsonb_to_recordset(CAST(:rows AS jsonb))
                             AS i(product_id bigint, quantity numeric, unit text, raw_text text)
    RETURNING {_returning(_ITEMS)}
    """
).columns(*_ITEMS.c)
_INSERT_OFFERS = text(
    f"""
    WITH audit AS (
        INSERT INTO audit_logs (retailer_id, order_id, actor_type, actor_id, action, to_status, details)
        VALUES (:retailer_id, :order_id, CAST(:actor_type AS actor_type), :retailer_id, 'order.created',
                :to_status, CAST(:details AS jsonb))
    )
    INSERT INTO vendor_offers (order_id, wholesaler_id, total_price)
    SELECT :order_id, * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS o(wholesaler_id bigint, total_price numeric)
    RETURNING {_returning(_OFFERS)}
    """
).columns(*_OFFERS.c)


def _loaded(session: Session, model: type[_T], row: Row[Any]) -> _T:
    """A row this transaction just wrote, as the session's persistent object (no pending changes)."""
    obj = model(**row._asdict())
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def _id(row: OrderItem | VendorOffer) -> int:
    return row.id


def eligible_wholesalers(
    session: Session, lines: Sequence[OrderLine], retailer: Retailer, limit: int
) -> list[tuple[int, Decimal]]:
    rows = session.connection().execute(  # plain SQL: past the ORM's execute (its events, its plugins)
        _ELIGIBLE,
        {
            "product_ids": [ln.product_id for ln in lines],
            "quantities": [ln.quantity for ln in lines],
            "district": retailer.district or "",
            "lines": len(lines),
            "limit": limit,
        },
    )
    return [(int(r.wholesaler_id), Decimal(r.total).quantize(Decimal("0.01"))) for r in rows]


def place_order(
    session: Session,
    retailer: Retailer,
    lines: Sequence[OrderLine],
    settings: OfferRules,
    now: datetime | None = None,
) -> Order:
    """The retailer said YES: create the order, hold credit for the best catalog total, and invite
    the eligible wholesalers. All or nothing: every refusal (a product gone, no wholesaler, the
    credit limit) is found before anything is written — the credit hold is one guarded UPDATE that
    changes nothing when it does not fit — so a refusal leaves no trace without a savepoint; what
    can still fail after the hold (the INSERTs) is a database error, which aborts the transaction."""
    if not lines:
        raise InvalidInput("an order needs at least one item", code="order_empty")
    now = now or datetime.now(UTC)
    found = session.execute(_UNITS, {"ids": [ln.product_id for ln in lines]})
    units: dict[int, str] = {pid: unit for pid, unit in found}
    for line in lines:
        if line.product_id not in units:
            raise NotFound(f"product {line.product_id} is not in the catalog", code="product_gone")
        if line.quantity <= 0:
            raise InvalidInput("quantities must be more than zero", code="quantity_not_positive")
    invited = eligible_wholesalers(session, lines, retailer, settings.max_invites)
    if not invited:
        raise NoWholesalerAvailable("no wholesaler has all of these items in stock right now")
    estimated_total = min(total for _, total in invited)
    ref = new_order_ref(session)  # before the hold: nothing refuses after it
    # The credit is held now, so two orders racing for the last credit cannot both be confirmed.
    hold_credit(session, retailer.id, estimated_total, None)
    connection = session.connection()
    order = _loaded(
        session,
        Order,
        connection.execute(
            _INSERT_ORDER,
            {
                "ref": ref,
                "retailer_id": retailer.id,
                "status": OrderStatus.PENDING_OFFERS,
                "estimated_total": estimated_total,
                "delivery_district": retailer.district,
                "offer_window_closes_at": now + timedelta(seconds=settings.offer_window_seconds),
            },
        ).one(),
    )
    items = connection.execute(
        _INSERT_ITEMS,
        {
            "order_id": order.id,
            "rows": json.dumps(
                [
                    {
                        "product_id": ln.product_id,
                        "quantity": str(ln.quantity),
                        "unit": units[ln.product_id],
                        "raw_text": ln.raw_text,
                    }
                    for ln in lines
                ]
            ),
        },
    ).all()
    offers = connection.execute(
        _INSERT_OFFERS,
        {
            "order_id": order.id,
            "rows": json.dumps([{"wholesaler_id": w, "total_price": str(total)} for w, total in invited]),
            "retailer_id": retailer.id,
            "actor_type": ActorType.RETAILER.value,
            "to_status": OrderStatus.PENDING_OFFERS.value,
            "details": json.dumps({"invited": [w for w, _ in invited], "estimated_total": str(order.estimated_total)}),
        },
    ).all()
    # The order's two collections set as loaded, in id order as their relationships load them: whoever
    # reads them next (the reply counts the offers) reads nothing.
    set_committed_value(order, "items", sorted((_loaded(session, OrderItem, r) for r in items), key=_id))
    set_committed_value(order, "offers", sorted((_loaded(session, VendorOffer, r) for r in offers), key=_id))
    log.info("held NPR %s of retailer %s's credit for order %s", npr(estimated_total), retailer.id, order.id)
    for wholesaler_id, total in invited:
        notify(
            session,
            Notice(
                key="offer_invite",
                to_kind="wholesaler",
                to_id=wholesaler_id,
                order_id=order.id,
                dedupe_key=f"invite:{order.id}:{wholesaler_id}",
                kind="offer_request",
                params={"ref": order.ref, "total": npr(total), "district": retailer.district or "-"},
            ),
        )
    assert order.offer_window_closes_at is not None
    record_event(session, OfferWindowOpened(order.id, order.offer_window_closes_at))
    return order


def _invited_offer(session: Session, order: Order, wholesaler_id: int) -> VendorOffer:
    offer = session.scalars(
        select(VendorOffer)
        .where(VendorOffer.order_id == order.id, VendorOffer.wholesaler_id == wholesaler_id)
        .with_for_update()
    ).first()
    if offer is None:
        raise NotInvited(f"you were not asked for an offer on {order.ref}", ref=order.ref)
    return offer


def _open_for_offers(session: Session, ref: str, now: datetime) -> Order:
    order = lock_order(session, find_order(session, ref).id)
    closes = order.offer_window_closes_at
    if order.status is not OrderStatus.PENDING_OFFERS or (closes is not None and now >= closes):
        raise LateOffer(order)
    return order


def _check_all_answered(session: Session, order: Order) -> None:
    waiting = session.scalar(
        select(exists().where(VendorOffer.order_id == order.id, VendorOffer.status == OfferStatus.PENDING))
    )
    if not waiting:
        record_event(session, OfferWindowReady(order.id))


def submit_offer(
    session: Session,
    wholesaler_id: int,
    ref: str,
    price: Decimal,
    delivery_days: int | None = None,
    now: datetime | None = None,
) -> VendorOffer:
    """`OFFER TK-7F3K 5400 tomorrow`: a new total (and delivery time) for the whole order."""
    now = now or datetime.now(UTC)
    if price <= 0:
        raise InvalidInput(
            "an offer needs a price above zero", code="offer_price_not_positive", ref=ref.strip().upper()
        )
    if price > MAX_AMOUNT:  # the column's range; checked before quantize, which fails beyond it
        raise OutOfRange("an offer's total", MAX_AMOUNT)
    if decimal_places(price) > 2:  # NUMERIC(14, 2) would round it silently
        raise TooManyDecimals("an offer's total", 2)
    if delivery_days is not None and not 0 <= delivery_days <= MAX_DELIVERY_DAYS:
        raise InvalidInput(
            f"delivery must be within {MAX_DELIVERY_DAYS} days", code="delivery_too_late", days=MAX_DELIVERY_DAYS
        )
    order = _open_for_offers(session, ref, now)
    offer = _invited_offer(session, order, wholesaler_id)
    if offer.status not in OPEN_OFFER:
        raise InvalidInput(
            f"you already answered {order.ref} ({offer.status.value.lower()})",
            code="already_answered",
            ref=order.ref,
            state=offer.status,
        )
    offer.total_price = price.quantize(Decimal("0.01"))
    offer.delivery_days = delivery_days
    offer.status = OfferStatus.SUBMITTED
    offer.responded_at = now
    session.flush()
    _check_all_answered(session, order)
    return offer


def accept_at_catalog_price(session: Session, wholesaler_id: int, ref: str, now: datetime | None = None) -> VendorOffer:
    """`ACCEPT TK-7F3K` during the window: the invited catalog-price offer stands as answered."""
    now = now or datetime.now(UTC)
    order = _open_for_offers(session, ref, now)
    offer = _invited_offer(session, order, wholesaler_id)
    if offer.status is OfferStatus.PENDING:
        offer.status = OfferStatus.SUBMITTED
        offer.responded_at = now
        session.flush()
    elif offer.status is not OfferStatus.SUBMITTED:
        raise InvalidInput(
            f"you already answered {order.ref} ({offer.status.value.lower()})",
            code="already_answered",
            ref=order.ref,
            state=offer.status,
        )
    _check_all_answered(session, order)
    return offer


def pass_offer(session: Session, wholesaler_id: int, ref: str, now: datetime | None = None) -> VendorOffer:
    """`PASS TK-7F3K` during the window."""
    now = now or datetime.now(UTC)
    order = _open_for_offers(session, ref, now)
    offer = _invited_offer(session, order, wholesaler_id)
    if offer.status not in OPEN_OFFER:
        raise InvalidInput(
            f"you already answered {order.ref} ({offer.status.value.lower()})",
            code="already_answered",
            ref=order.ref,
            state=offer.status,
        )
    offer.status = OfferStatus.PASSED
    offer.responded_at = now
    session.flush()
    _check_all_answered(session, order)
    return offer


def wholesaler_open_work(session: Session, wholesaler_id: int, limit: int = 10) -> list[tuple[str, str, Decimal]]:
    """(ref, what is expected, total) for a wholesaler's `STATUS`: invitations still open and
    orders won but not yet delivered."""
    rows = session.execute(
        select(Order.ref, Order.status, VendorOffer.status, VendorOffer.total_price)
        .join(VendorOffer, VendorOffer.order_id == Order.id)
        .where(
            VendorOffer.wholesaler_id == wholesaler_id,
            (
                (Order.status == OrderStatus.PENDING_OFFERS) & VendorOffer.status.in_(OPEN_OFFER)
                | (VendorOffer.status == OfferStatus.WON)
                & Order.status.in_([OrderStatus.WHOLESALER_SELECTED, OrderStatus.CONFIRMED, OrderStatus.DISPATCHED])
            ),
        )
        .order_by(Order.created_at.desc())
        .limit(limit)
    ).all()
    return [(ref, order_status.value, total) for ref, order_status, _, total in rows]
