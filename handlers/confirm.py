"""`confirm` (YES) places the drafted order; `decline` (NO) drops it."""

from __future__ import annotations

import math

from bot.parser import Intent
from db.models import Retailer
from domain.drafts import discard_draft, take_draft
from domain.offers import OrderLine, place_order
from handlers import Reply
from handlers.context import Context


def handle(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.retailer_id is not None
    lines = take_draft(ctx.session, ctx.retailer_id)
    if not lines:
        return [ctx.reply("nothing_to_confirm")]
    retailer = ctx.session.get(Retailer, ctx.retailer_id)
    assert retailer is not None
    order = place_order(
        ctx.session, retailer, [OrderLine(ln.product_id, ln.quantity, ln.raw_text) for ln in lines], ctx.settings
    )
    minutes = max(1, math.ceil(ctx.settings.offer_window_seconds / 60))
    return [ctx.reply("order_placed", order_id=order.id, ref=order.ref, count=len(order.offers), minutes=minutes)]


def decline(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.retailer_id is not None
    if discard_draft(ctx.session, ctx.retailer_id):
        return [ctx.reply("draft_discarded")]
    return [ctx.reply("nothing_to_confirm")]
