"""`status`: a retailer's open orders, or a wholesaler's open invitations and won orders."""

from __future__ import annotations

from decimal import Decimal

from bot.parser import Intent
from domain.offers import wholesaler_open_work
from domain.orders import open_orders
from handlers import Reply
from handlers.context import Context


def handle(ctx: Context, intent: Intent) -> list[Reply]:
    if ctx.wholesaler_id is not None:
        work = wholesaler_open_work(ctx.session, ctx.wholesaler_id)
        if not work:
            return [ctx.reply("wholesaler_status_none")]
        lines = "\n".join(
            ctx.text("wholesaler_status_line", ref=ref, state=ctx.text(f"state_{state}"), total=ctx.money(total))
            for ref, state, total in work
        )
        return [ctx.reply("wholesaler_status", lines=lines)]
    assert ctx.retailer_id is not None
    orders = open_orders(ctx.session, ctx.retailer_id)
    if not orders:
        return [ctx.reply("status_none")]
    def total(amount: Decimal | None) -> str:
        return f" — NPR {ctx.money(amount)}" if amount else ""

    lines = "\n".join(
        ctx.text(
            "status_line",
            ref=o.ref,
            state=ctx.text(f"state_{o.status.value}"),
            total=total(o.final_total or o.estimated_total),
        )
        for o in orders
    )
    return [ctx.reply("status_list", lines=lines)]
