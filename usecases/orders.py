"""The order's use cases: place (from the retailer's confirmed draft), cancel, dispatch, deliver.

Each is one unit of work's worth in the caller's session: the domain call, the notices, the audit
row; the caller commits. WhatsApp (handlers/), the dashboard (dashboard/actions.py) and the CLI call
these same functions, so the same action tells the same people the same thing wherever it starts.

Who is told:
- placed: every invited wholesaler (`offer_invite`, recorded by `domain.offers.place_order`).
- cancelled by the retailer: the chosen wholesaler, if there is one (the retailer has the reply).
- cancelled by Thok (an admin, the CLI): the retailer and the chosen wholesaler, that Thok cancelled
  and why.
- cancelled while offers are open, by anyone: each invited wholesaler who may still answer, that
  there is nothing to answer any more.
- dispatched, delivered: the retailer (the wholesaler who sent the command has the reply; an admin
  who marks it sees the order page).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ActorType, AuditLog, Order, OrderStatus, VendorOffer
from domain import fulfilment
from domain.audit import snapshot
from domain.drafts import Draft, discard_draft
from domain.errors import InvalidInput, NotFound
from domain.events import Notice, notify
from domain.offers import OPEN_OFFER, OfferRules, OrderLine
from domain.offers import place_order as create_order
from domain.orders import lock_order
from usecases import rows
from usecases.actor import Actor, audit

ORDER_FIELDS = ("status", "final_wholesaler_id", "final_total", "status_reason")
RETAILER_CANCEL_REASON = "cancelled on WhatsApp"


def audit_order(
    session: Session, actor: Actor, action: str, order: Order, before: dict[str, Any], **extra: Any
) -> None:
    """The use case's audit row about an order (usecases.actor.audit), tied to the order's thread."""
    row = audit(
        session,
        actor,
        action,
        "order",
        order.id,
        before=before,
        after=snapshot(order, *ORDER_FIELDS) | extra,
        retailer_id=order.retailer_id,
    )
    if isinstance(row, AuditLog):
        row.order_id = order.id  # the order page lists its audit_logs rows by order
        session.flush()


def _own(order: Order, actor: Actor) -> None:
    """A retailer acts on their own orders, a wholesaler on the ones they won; anyone else's order
    is answered as "no such order" (its existence is not theirs to learn)."""
    if actor.kind is ActorType.RETAILER and order.retailer_id != actor.id:
        raise NotFound(f"no order {order.ref}", code="order_not_found", ref=order.ref)
    if actor.kind is ActorType.WHOLESALER and order.final_wholesaler_id != actor.id:
        raise NotFound(f"{order.ref} is not one of your orders", code="order_not_found", ref=order.ref)


# --- place -----------------------------------------------------------------------------------------


def place_order(session: Session, actor: Actor, draft: Draft, rules: OfferRules) -> Order:
    """The retailer said YES to their draft: the draft is used up, the order placed (credit held,
    wholesalers invited; `domain.offers.place_order` writes `order.created` and the invitations).
    A refusal (no wholesaler, credit) raises, and the caller's savepoint takes the draft back too."""
    if actor.kind is not ActorType.RETAILER or actor.id is None:
        raise InvalidInput("only the retailer places their order")
    discard_draft(session, actor.id)
    retailer = rows.retailer(session, actor.id)
    lines: Sequence[OrderLine] = [OrderLine(ln.product_id, ln.quantity, ln.raw_text) for ln in draft.lines]
    return create_order(session, retailer, lines, rules)


# --- cancel ----------------------------------------------------------------------------------------


def cancel_order(session: Session, actor: Actor, order_id: int, reason: str | None = None) -> Order:
    """Cancel an order that may still be cancelled (the domain gives back stock, credit and any
    DEBIT). Thok's own people must say why: both parties are told it."""
    reason = (reason or "").strip()
    by_thok = actor.kind in (ActorType.ADMIN, ActorType.SYSTEM)
    if by_thok and not reason:
        raise InvalidInput("say why the order is cancelled (the retailer and wholesaler are told)")
    order = lock_order(session, order_id)
    _own(order, actor)
    before = snapshot(order, *ORDER_FIELDS)
    # Invited wholesalers who may still answer (the chosen one, if any, is told below instead).
    waiting = [
        w
        for w in session.scalars(
            select(VendorOffer.wholesaler_id).where(
                VendorOffer.order_id == order.id, VendorOffer.status.in_(OPEN_OFFER)
            )
        )
        if w != order.final_wholesaler_id
    ]
    fulfilment.cancel_order(
        session, order.id, actor_type=actor.kind, actor_id=actor.id, reason=reason or RETAILER_CANCEL_REASON
    )
    for wholesaler_id in waiting:
        notify(
            session,
            Notice(
                "order_withdrawn",
                "wholesaler",
                wholesaler_id,
                f"withdrawn:{order.id}:{wholesaler_id}",
                order.id,
                {"ref": order.ref},
            ),
        )
    params = {"ref": order.ref, "reason": reason}
    if by_thok:
        notify(
            session,
            Notice(
                "order_cancelled_by_thok", "retailer", order.retailer_id, f"cancelled:{order.id}:r", order.id, params
            ),
        )
    if order.final_wholesaler_id is not None:
        key = "order_cancelled_by_thok_wholesaler" if by_thok else "order_cancelled_wholesaler"
        notify(
            session,
            Notice(key, "wholesaler", order.final_wholesaler_id, f"cancelled:{order.id}:w", order.id, params),
        )
    audit_order(session, actor, "order.cancel", order, before)
    return order


# --- fulfilment --------------------------------------------------------------------------------------


def mark_dispatched(session: Session, actor: Actor, order_id: int) -> Order:
    """The winner (or Thok for them) says the goods left: the retailer is told they are on their way."""
    order = lock_order(session, order_id)
    _own(order, actor)
    before = snapshot(order, *ORDER_FIELDS)
    fulfilment.mark_dispatched(session, order, actor_type=actor.kind, actor_id=actor.id)
    notify(
        session,
        Notice(
            "order_dispatched", "retailer", order.retailer_id, f"dispatched:{order.id}", order.id, {"ref": order.ref}
        ),
    )
    audit_order(session, actor, "order.mark_dispatched", order, before)
    return order


def mark_delivered(session: Session, actor: Actor, order_id: int) -> Order:
    """The goods arrived: their reserved stock is used up, and the retailer is thanked."""
    order = lock_order(session, order_id)
    _own(order, actor)
    before = snapshot(order, *ORDER_FIELDS)
    fulfilment.mark_delivered(session, order, actor_type=actor.kind, actor_id=actor.id)
    notify(
        session,
        Notice("order_delivered", "retailer", order.retailer_id, f"delivered:{order.id}", order.id, {"ref": order.ref}),
    )
    audit_order(session, actor, "order.mark_delivered", order, before)
    return order


def advance_order(session: Session, actor: Actor, order_id: int, to: str) -> Order:
    """Move an order on by its status name (the dashboard's form): DISPATCHED or DELIVERED."""
    if to == OrderStatus.DISPATCHED.value:
        return mark_dispatched(session, actor, order_id)
    if to == OrderStatus.DELIVERED.value:
        return mark_delivered(session, actor, order_id)
    raise InvalidInput(f"an order can be marked DISPATCHED or DELIVERED, not {to!r}")
