"""`DISPATCHED TK-XXXX` and `DELIVERED TK-XXXX` from the winning wholesaler (usecases.orders)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from db.models import Order
from domain.orders import wholesaler_order
from handlers import Reply
from handlers.context import Context
from parsing.commands import Delivered, Dispatched
from usecases import orders
from usecases.actor import Actor

Mark = Callable[[Session, Actor, int], Order]


def _update(ctx: Context, ref: str | None, word: str, mark: Mark, done_key: str) -> list[Reply]:
    assert ctx.wholesaler_id is not None
    if not ref:
        return [ctx.reply("need_ref", command=word)]
    order = mark(
        ctx.session,
        Actor.wholesaler(ctx.wholesaler_id),
        wholesaler_order(ctx.session, ctx.wholesaler_id, ref).id,
    )
    return [ctx.reply(done_key, order_id=order.id, ref=order.ref)]


def dispatched(ctx: Context, command: Dispatched) -> list[Reply]:
    return _update(ctx, command.ref, "DISPATCHED", orders.mark_dispatched, "dispatched_ok")


def delivered(ctx: Context, command: Delivered) -> list[Reply]:
    return _update(ctx, command.ref, "DELIVERED", orders.mark_delivered, "delivered_ok")
