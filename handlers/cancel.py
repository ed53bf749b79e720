"""`cancel [TK-XXXX]`: cancel the named order; without a reference, the draft waiting for a YES
(the thing the shopkeeper was just talking about), else the latest open order."""

from __future__ import annotations

from datetime import UTC, datetime

from db.models import ActorType, OrderStatus
from domain.decision import cancel_order
from domain.drafts import discard_draft, load_draft
from domain.orders import can_transition, open_orders, retailer_order
from handlers import Reply
from handlers.context import Context
from parsing.parser import Intent


def handle(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.retailer_id is not None
    if intent.order_ref is None:
        draft = load_draft(ctx.session, ctx.retailer_id)
        if draft is not None and discard_draft(ctx.session, ctx.retailer_id) and not draft.expired(datetime.now(UTC)):
            parts = [ctx.text("draft_cancelled")]
            parts += [ctx.text("draft_cancel_open_order", ref=o.ref) for o in open_orders(ctx.session, ctx.retailer_id)]
            return [ctx.compose(parts)]
    order = retailer_order(ctx.session, ctx.retailer_id, intent.order_ref)
    if order is None:
        return [ctx.reply("cancel_none")]
    if not can_transition(order.status, OrderStatus.CANCELLED):
        return [ctx.reply("cancel_refused", ref=order.ref, state=ctx.text(f"state_{order.status.value}"))]
    cancel_order(
        ctx.session, order.id, actor_type=ActorType.RETAILER, actor_id=ctx.retailer_id, reason="cancelled on WhatsApp"
    )
    return [ctx.reply("cancel_done", order_id=order.id, ref=order.ref)]
