"""What the conversation tells people about an order, read from the rows: whose order it is, what is
in it, at whose prices, who won it. Read-only; the notices and replies format it in the reader's
language (handlers.notices, handlers.status)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Order, OrderItem, Product, Retailer, VendorOffer, Wholesaler, WholesalerProduct
from domain.parties import PartyKind

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


def order_id_for_ref(session: Session, ref: str) -> int | None:
    return session.scalar(select(Order.id).where(Order.ref == ref.strip().upper()))


def items_of(session: Session, order_ids: list[int]) -> dict[int, list[ItemFact]]:
    """Each order's lines, in the order they were written."""
    if len(order_ids) == 1:
        [order_id] = order_ids
        return {order_id: list(_memo(session, ("items", order_id), lambda: _items_of(session, order_ids)[order_id]))}
    return _items_of(session, order_ids)


def _items_of(session: Session, order_ids: list[int]) -> dict[int, list[ItemFact]]:
    rows = session.execute(
        select(OrderItem.order_id, OrderItem.quantity, OrderItem.unit, Product.name, Product.name_ne, Product.id)
        .join(Product, Product.id == OrderItem.product_id)
        .where(OrderItem.order_id.in_(order_ids))
        .order_by(OrderItem.order_id, OrderItem.id)
    )
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
    rows = session.execute(
        select(WholesalerProduct.wholesaler_id, WholesalerProduct.product_id, WholesalerProduct.price).where(
            WholesalerProduct.wholesaler_id.in_(wholesaler_ids), WholesalerProduct.product_id.in_(product_ids)
        )
    )
    found: dict[int, dict[int, Decimal]] = {}
    for wholesaler_id, product_id, price in rows:
        found.setdefault(wholesaler_id, {})[product_id] = price
    return found


def winning_offer(session: Session, order: Order) -> VendorOffer | None:
    winner = order.final_wholesaler_id
    if winner is None:
        return None
    return _memo(
        session,
        ("winner", order.id, winner),
        lambda: session.scalars(
            select(VendorOffer).where(VendorOffer.order_id == order.id, VendorOffer.wholesaler_id == winner)
        ).first(),
    )


def wholesaler_name(session: Session, wholesaler_id: int) -> str:
    def read() -> str:
        wholesaler = session.get(Wholesaler, wholesaler_id)
        return PartyKind.shown_name(wholesaler) if wholesaler else "-"

    return _memo(session, ("wholesaler", wholesaler_id), read)


def order_of(session: Session, order_id: int) -> Order | None:
    """The order a notice is about. While remembered, the row is held here: the session's identity
    map keeps only weak references, so an order no one holds was read again for every notice, and
    its retailer with it."""
    return _memo(session, ("order", order_id), lambda: session.get(Order, order_id))


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
