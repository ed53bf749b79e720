"""`DISPATCHED TK-XXXX` and `DELIVERED TK-XXXX` from the winning wholesaler."""

from __future__ import annotations

from collections.abc import Callable

from db.models import ActorType, Order
from domain.decision import mark_delivered, mark_dispatched
from domain.orders import lock_order, wholesaler_order
from handlers import Reply
from handlers.context import Context
from parsing.parser import Intent


def _update(ctx: Context, intent: Intent, command: str, mark: Callable[..., None], done_key: str) -> list[Reply]:
    assert ctx.wholesaler_id is not None
    if not intent.order_ref:
        return [ctx.reply("need_ref", command=command)]
    order: Order = lock_order(ctx.session, wholesaler_order(ctx.session, ctx.wholesaler_id, intent.order_ref).id)
    mark(ctx.session, order, actor_type=ActorType.WHOLESALER, actor_id=ctx.wholesaler_id)
    return [ctx.reply(done_key, order_id=order.id, ref=order.ref)]


def dispatched(ctx: Context, intent: Intent) -> list[Reply]:
    return _update(ctx, intent, "DISPATCHED", mark_dispatched, "dispatched_ok")


def delivered(ctx: Context, intent: Intent) -> list[Reply]:
    return _update(ctx, intent, "DELIVERED", mark_delivered, "delivered_ok")
