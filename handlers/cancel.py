"""`cancel [TK-XXXX]`: cancel the named order, or the latest open one."""

from __future__ import annotations

from bot.parser import Intent
from db.models import ActorType, OrderStatus
from domain.decision import cancel_order
from domain.orders import can_transition, retailer_order
from handlers import Reply
from handlers.context import Context


def handle(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.retailer_id is not None
    order = retailer_order(ctx.session, ctx.retailer_id, intent.order_ref)
    if order is None:
        return [ctx.reply("cancel_none")]
    if not can_transition(order.status, OrderStatus.CANCELLED):
        return [ctx.reply("cancel_refused", ref=order.ref, state=ctx.text(f"state_{order.status.value}"))]
    cancel_order(
        ctx.session, order.id, actor_type=ActorType.RETAILER, actor_id=ctx.retailer_id, reason="cancelled on WhatsApp"
    )
    return [ctx.reply("cancel_done", order_id=order.id, ref=order.ref)]
