"""`cancel [TK-XXXX]`: cancel the named order; without a reference, the draft waiting for a YES
(the thing the shopkeeper was just talking about), else the latest open order."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.drafts import discard_draft, load_draft
from domain.orders import open_orders, retailer_order
from handlers import Reply
from handlers.context import Context
from parsing.commands import Cancel
from usecases import orders
from usecases.actor import Actor


def handle(ctx: Context, command: Cancel) -> list[Reply]:
    assert ctx.retailer_id is not None
    if command.ref is None:
        draft = load_draft(ctx.session, ctx.retailer_id)
        if draft is not None and discard_draft(ctx.session, ctx.retailer_id) and not draft.expired(datetime.now(UTC)):
            parts = [ctx.text("draft_cancelled")]
            parts += [ctx.text("draft_cancel_open_order", ref=o.ref) for o in open_orders(ctx.session, ctx.retailer_id)]
            return [ctx.compose(parts)]
    order = retailer_order(ctx.session, ctx.retailer_id, command.ref)
    if order is None:
        return [ctx.reply("cancel_none")]
    # One that can no longer be cancelled is refused by the use case (IllegalTransition: cancel_refused).
    orders.cancel_order(ctx.session, Actor.retailer(ctx.retailer_id), order.id)
    return [ctx.reply("cancel_done", order_id=order.id, ref=order.ref)]
