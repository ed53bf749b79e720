"""The offer round's use cases: a wholesaler's OFFER, ACCEPT and PASS, and an admin's override of
the winner. One unit of work's worth each, in the caller's session; the caller commits.

ACCEPT and PASS mean two things, by where the order stands: during the offer window they answer the
invitation (take it at catalog prices / decline it); once this wholesaler has won, ACCEPT confirms
the order (the retailer is told, the khata gets its DEBIT) and PASS gives the win up (the next
offer wins by the same rules). The decision engine (domain.selection) records the notices of what
it decides, because its timers decide without anyone acting; these use cases add the audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlalchemy.orm import Session

from db.models import ActorType, Order, OrderStatus, VendorOffer
from domain import fulfilment, selection
from domain.audit import snapshot
from domain.errors import InvalidInput
from domain.events import take_events, take_notices
from domain.offers import accept_at_catalog_price, pass_offer
from domain.offers import submit_offer as record_offer
from domain.orders import find_order, lock_order
from usecases.actor import Actor, audit
from usecases.orders import ORDER_FIELDS, audit_order

OFFER_FIELDS = ("status", "total_price", "delivery_days")


@dataclass(frozen=True)
class Answered:
    """What a wholesaler's ACCEPT or PASS did: `outcome` is "accepted" / "passed" (the invitation)
    or "confirmed" / "released" (their win)."""

    order: Order
    outcome: Literal["accepted", "passed", "confirmed", "released"]


def _wholesaler(actor: Actor) -> int:
    if actor.kind is not ActorType.WHOLESALER or actor.id is None:
        raise InvalidInput("only an invited wholesaler answers an invitation")
    return actor.id


def _audit_offer(session: Session, actor: Actor, action: str, offer: VendorOffer, before: dict[str, object]) -> None:
    order = session.get(Order, offer.order_id)
    audit(
        session,
        actor,
        action,
        "vendor_offer",
        offer.id,
        before=before,
        after=snapshot(offer, *OFFER_FIELDS) | {"order_ref": order.ref if order else None},
        retailer_id=order.retailer_id if order else None,
    )


def _is_winner(order: Order, wholesaler_id: int) -> bool:
    return order.status is OrderStatus.WHOLESALER_SELECTED and order.final_wholesaler_id == wholesaler_id


def submit_offer(
    session: Session, actor: Actor, ref: str, price: Decimal, delivery_days: int | None = None
) -> VendorOffer:
    """`OFFER TK-7F3K 5400 tomorrow`: a new total (and delivery day) for the whole order."""
    wholesaler_id = _wholesaler(actor)
    offer = record_offer(session, wholesaler_id, ref, price, delivery_days)
    _audit_offer(session, actor, "offer.submit", offer, {})
    return offer


def accept(session: Session, actor: Actor, ref: str, rules: selection.DecisionRules) -> Answered:
    """`ACCEPT TK-7F3K`: take the invitation at catalog prices, or, as the winner, confirm the order."""
    wholesaler_id = _wholesaler(actor)
    order = find_order(session, ref)
    if _is_winner(order, wholesaler_id):
        before = snapshot(order, *ORDER_FIELDS)
        confirmed = fulfilment.confirm_winner(session, wholesaler_id, ref, rules)
        audit_order(session, actor, "order.confirm", confirmed, before)
        return Answered(confirmed, "confirmed")
    offer = accept_at_catalog_price(session, wholesaler_id, ref)
    _audit_offer(session, actor, "offer.accept", offer, {})
    return Answered(order, "accepted")


def pass_(session: Session, actor: Actor, ref: str, rules: selection.DecisionRules) -> Answered:
    """`PASS TK-7F3K`: decline the invitation, or give up a win (the next offer then wins)."""
    wholesaler_id = _wholesaler(actor)
    order = find_order(session, ref)
    if _is_winner(order, wholesaler_id):
        before = snapshot(order, *ORDER_FIELDS)
        selection.decline_as_winner(session, wholesaler_id, ref, rules)
        audit_order(session, actor, "order.release_win", order, before)
        return Answered(order, "released")
    offer = pass_offer(session, wholesaler_id, ref)
    _audit_offer(session, actor, "offer.pass", offer, {})
    return Answered(order, "passed")


def override_winner(
    session: Session, actor: Actor, order_id: int, offer_id: int, rules: selection.DecisionRules
) -> selection.Decision:
    """Make this offer win through `pick_winner` itself: same scoring, stock and credit checks, and
    the same conflict log when the order is already decided. A forced offer that cannot be served
    is refused with the order left open, rather than letting the engine expire the order."""
    admin = actor.as_admin()  # only Thok overrides the engine
    offer = session.get(VendorOffer, offer_id)
    if offer is None or offer.order_id != order_id:
        raise InvalidInput("that offer does not belong to this order")
    order = lock_order(session, order_id)
    before = snapshot(order, *ORDER_FIELDS)
    savepoint = session.begin_nested()
    result = selection.pick_winner(
        session,
        order_id,
        rules,
        source=admin.source,
        forced_offer_id=offer_id,
        actor_type=ActorType.ADMIN,
        actor_id=admin.admin_id,
    )
    if result.outcome == "expired":
        savepoint.rollback()
        take_notices(session), take_events(session)  # the expiry's messages must not go out
        raise InvalidInput(
            f"offer {offer_id} cannot win: the wholesaler lacks the stock or the retailer the credit; "
            "the order stays open",
            code="offer_cannot_win",
        )
    savepoint.commit()
    audit_order(session, actor, "order.override_winner", order, before, offer_id=offer_id, outcome=result.outcome)
    return result
