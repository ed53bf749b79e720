"""`DISPATCHED TK-XXXX` and `DELIVERED TK-XXXX` from the winning wholesaler."""

from __future__ import annotations

from bot.parser import Intent
from db.models import ActorType
from domain.decision import mark_delivered, mark_dispatched
from domain.orders import lock_order, wholesaler_order
from handlers import Reply
from handlers.context import Context


def dispatched(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.wholesaler_id is not None
    if not intent.order_ref:
        return [ctx.reply("need_ref", command="DISPATCHED")]
    order = lock_order(ctx.session, wholesaler_order(ctx.session, ctx.wholesaler_id, intent.order_ref).id)
    mark_dispatched(ctx.session, order, actor_type=ActorType.WHOLESALER, actor_id=ctx.wholesaler_id)
    return [ctx.reply("dispatched_ok", order_id=order.id, ref=order.ref)]


def delivered(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.wholesaler_id is not None
    if not intent.order_ref:
        return [ctx.reply("need_ref", command="DELIVERED")]
    order = lock_order(ctx.session, wholesaler_order(ctx.session, ctx.wholesaler_id, intent.order_ref).id)
    mark_delivered(ctx.session, order, actor_type=ActorType.WHOLESALER, actor_id=ctx.wholesaler_id)
    return [ctx.reply("delivered_ok", order_id=order.id, ref=order.ref)]
