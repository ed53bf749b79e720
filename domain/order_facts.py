"""What the conversation tells people about an order, read from the rows: whose order it is, what is
in it, at whose prices, who won it. Read-only; the notices and replies format it in the reader's
language (handlers.notices, handlers.status)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from db.models import Order, OrderItem, Product, Retailer, VendorOffer, WholesalerProduct

T = TypeVar("T")
_MEMO = "order_facts_memo"


_WHOLESALERS = "wholesalers"


@contextmanager
def remembered(session: Session, wholesaler_ids: Collection[int] = ()) -> Iterator[None]:
    """While a transaction's notices are rendered (workers.notices), several describe the same order
    (its invitations, a decision's notices to each party): its lines and winner are read once, not
    once per notice, and the catalog prices of every wholesaler named in `wholesaler_ids` (the
    notices' wholesaler recipients) in one query per order. Only for that moment: the rows do not
    change while notices are written."""
    session.info[_MEMO] = {_WHOLESALERS: frozenset(wholesaler_ids)}
    try:
        yield
    finally:
        session.info.pop(_MEMO, None)


def _memo(session: Session, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    memo: dict[tuple[Any, ...], Any] | None = session.info.get(_MEMO)
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ItemFact:
    quantity: Decimal
    unit: str
    name: str
    name_ne: str | None
    product_id: int


@dataclass(frozen=True)
class WinnerFact:
    """The winning offer, as a notice names it."""

    wholesaler_id: int
    name: str  # the business's name, else the person's; "-" if the wholesaler is gone
    delivery_days: int | None
    since: datetime  # when it was decided (else answered, else invited): delivery is counted from it


@dataclass(frozen=True)
class OrderFact:
    """An order as its notices describe it: the order, its shop, its winner and its lines."""

    id: int
    ref: str
    delivery_district: str | None
    offer_window_closes_at: datetime | None
    accept_deadline_at: datetime | None
    shop: str
    retailer: str
    phone: str
    address: str | None
    district: str | None  # the shop's
    winner: WinnerFact | None
    items: tuple[ItemFact, ...]


# One statement for all of it (built once: text() needs no cache key per call). The lines come
# one a row, the order's columns repeated; an order with no lines still gives its one row. Live
# products and a live winner only, as the ORM reads (db.session's soft-delete criteria) found them.
_ORDER = text(
    """
    SELECT o.ref, o.delivery_district, o.offer_window_closes_at, o.accept_deadline_at,
           r.shop_name, r.name, r.whatsapp_number, r.address, r.district,
           v.wholesaler_id, coalesce(nullif(w.business_name, ''), w.name), v.delivery_days,
           coalesce(v.decided_at, v.responded_at, v.invited_at),
           i.quantity, i.unit, p.name, p.name_ne, p.id
    FROM orders o
    JOIN retailers r ON r.id = o.retailer_id
    LEFT JOIN vendor_offers v ON v.order_id = o.id AND v.wholesaler_id = o.final_wholesaler_id
    LEFT JOIN wholesalers w ON w.id = v.wholesaler_id AND w.deleted_at IS NULL
    LEFT JOIN (order_items i JOIN products p ON p.id = i.product_id AND p.deleted_at IS NULL) ON i.order_id = o.id
    WHERE o.id = :order_id
    ORDER BY i.id
    """
)


def order_fact(session: Session, order_id: int) -> OrderFact | None:
    """The order a notice is about, read once per rendering (see `remembered`). The caller has
    flushed: this is a plain statement, it does not flush the session's changes first."""
    return _memo(session, ("order_fact", order_id), lambda: _order_fact(session, order_id))


def _order_fact(session: Session, order_id: int) -> OrderFact | None:
    rows = session.connection().execute(_ORDER, {"order_id": order_id}).all()
    if not rows:
        return None
    first = rows[0]
    winner = None
    if first[9] is not None:
        winner = WinnerFact(first[9], first[10] or "-", first[11], first[12])
    items = tuple(ItemFact(r[13], r[14], r[15], r[16], r[17]) for r in rows if r[17] is not None)
    memo: dict[tuple[Any, ...], Any] | None = session.info.get(_MEMO)
    if memo is not None:  # `items_of` in the same rendering reads these, not the table again
        memo.setdefault(("items", order_id), list(items))
    return OrderFact(
        order_id,
        first[0],
        first[1],
        first[2],
        first[3],
        first[4] or first[5],
        first[5],
        first[6],
        first[7],
        first[8],
        winner,
        items,
    )


def order_id_for_ref(session: Session, ref: str) -> int | None:
    return session.scalar(select(Order.id).where(Order.ref == ref.strip().upper()))


def items_of(session: Session, order_ids: list[int]) -> dict[int, list[ItemFact]]:
    """Each order's lines, in the order they were written."""
    if len(order_ids) == 1:
        [order_id] = order_ids
        return {order_id: list(_memo(session, ("items", order_id), lambda: _items_of(session, order_ids)[order_id]))}
    return _items_of(session, order_ids)


# Built once (SQLAlchemy memoises their cache keys); ORM-enabled, so they flush pending lines first.
_ITEMS = (
    select(OrderItem.order_id, OrderItem.quantity, OrderItem.unit, Product.name, Product.name_ne, Product.id)
    .join(Product, Product.id == OrderItem.product_id)
    .where(OrderItem.order_id.in_(bindparam("order_ids", expanding=True)))
    .order_by(OrderItem.order_id, OrderItem.id)
)
_PRICES = select(WholesalerProduct.wholesaler_id, WholesalerProduct.product_id, WholesalerProduct.price).where(
    WholesalerProduct.wholesaler_id.in_(bindparam("wholesaler_ids", expanding=True)),
    WholesalerProduct.product_id.in_(bindparam("product_ids", expanding=True)),
)


def _items_of(session: Session, order_ids: list[int]) -> dict[int, list[ItemFact]]:
    rows = session.execute(_ITEMS, {"order_ids": order_ids})
    found: dict[int, list[ItemFact]] = {order_id: [] for order_id in order_ids}
    for order_id, quantity, unit, name, name_ne, product_id in rows:
        found[order_id].append(ItemFact(quantity, unit, name, name_ne, product_id))
    return found


def wholesaler_prices(session: Session, wholesaler_id: int, product_ids: list[int]) -> dict[int, Decimal]:
    """The wholesaler's own catalog price per product (what their offer request is priced at).
    While remembered, read once for all the wholesalers being written to about these products."""
    memo: dict[Any, Any] | None = session.info.get(_MEMO)
    if memo is None:
        return _prices(session, [wholesaler_id], product_ids).get(wholesaler_id, {})
    products = tuple(sorted(set(product_ids)))
    known: tuple[frozenset[int], dict[int, dict[int, Decimal]]] | None = memo.get(("prices", products))
    if known is None or wholesaler_id not in known[0]:
        asked = frozenset({wholesaler_id, *memo[_WHOLESALERS]})
        known = (asked, _prices(session, sorted(asked), list(products)))
        memo[("prices", products)] = known
    return known[1].get(wholesaler_id, {})


def _prices(session: Session, wholesaler_ids: list[int], product_ids: list[int]) -> dict[int, dict[int, Decimal]]:
    rows = session.execute(_PRICES, {"wholesaler_ids": wholesaler_ids, "product_ids": product_ids})
    found: dict[int, dict[int, Decimal]] = {}
    for wholesaler_id, product_id, price in rows:
        found.setdefault(wholesaler_id, {})[product_id] = price
    return found


def invitation(session: Session, ref: str, wholesaler_id: int) -> tuple[Order, VendorOffer | None] | None:
    """The order named by `ref` and this wholesaler's invitation to it (None: not invited)."""
    order = session.scalars(select(Order).where(Order.ref == ref.strip().upper())).first()
    if order is None:
        return None
    offer = session.scalars(
        select(VendorOffer).where(VendorOffer.order_id == order.id, VendorOffer.wholesaler_id == wholesaler_id)
    ).first()
    return order, offer


def shops_of(session: Session, refs: list[str]) -> dict[str, tuple[int, str]]:
    """ref → (order id, the shop's name) for a wholesaler's STATUS lines."""
    rows = session.execute(
        select(Order.ref, Order.id, Retailer.shop_name, Retailer.name)
        .join(Retailer, Retailer.id == Order.retailer_id)
        .where(Order.ref.in_(refs))
    )
    return {ref: (order_id, shop or name) for ref, order_id, shop, name in rows}
