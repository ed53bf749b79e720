"""`reorder`: "same as last time" / "aghi ko order feri pathaunu" makes a draft of the retailer's
last delivered order at today's prices, shown for YES like any order (nothing is placed by it)."""

from __future__ import annotations

from domain.drafts import Draft
from domain.prices import last_delivered_order
from handlers import Reply
from handlers.context import Context
from handlers.order import add_items, present
from parsing.commands import Reorder
from parsing.parser import ParsedItem


def handle(ctx: Context, command: Reorder) -> list[Reply]:
    assert ctx.retailer_id is not None
    last = last_delivered_order(ctx.session, ctx.retailer_id)
    if last is None or not last.items:
        return [ctx.reply("reorder_none")]
    items = [ParsedItem(i.product.sku, i.quantity, i.unit, i.raw_text or i.product.name) for i in last.items]
    draft = Draft()  # a repeat starts a new draft: it is the whole order, not lines to add
    notes = [ctx.text("reorder_from", ref=last.ref)]
    notes += add_items(ctx, draft, items, {i.product.sku: i.product for i in last.items})
    return [present(ctx, draft, notes)]
