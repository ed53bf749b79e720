"""`status`: a retailer's open orders, or a wholesaler's open invitations and won orders."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from domain.drafts import load_draft
from domain.offers import wholesaler_open_work
from domain.order_facts import items_of, shops_of
from domain.orders import open_orders
from handlers import Reply
from handlers.context import Context
from handlers.notices import items_text
from handlers.order import lines_text
from parsing.commands import Status


def handle(ctx: Context, command: Status) -> list[Reply]:
    if ctx.wholesaler_id is not None:
        work = wholesaler_open_work(ctx.session, ctx.wholesaler_id)
        if not work:
            return [ctx.reply("wholesaler_status_none")]
        # What each order is, not only its number: the wholesaler answers from this list.
        shops = shops_of(ctx.session, [ref for ref, _, _ in work])
        items = items_of(ctx.session, [order_id for order_id, _ in shops.values()])
        lines = "\n".join(
            ctx.text(
                "wholesaler_status_line",
                ref=ref,
                state=ctx.text(f"state_{state}"),
                total=ctx.money(total),
                shop=shops[ref][1] if ref in shops else "-",
                lines=items_text(items.get(shops[ref][0], []) if ref in shops else [], ctx.lang),
            )
            for ref, state, total in work
        )
        return [ctx.reply("wholesaler_status", lines=lines)]
    assert ctx.retailer_id is not None
    parts = _draft(ctx, ctx.retailer_id)
    orders = open_orders(ctx.session, ctx.retailer_id)
    if not orders:
        return [ctx.compose([*parts, ctx.text("status_none")])]

    def total(amount: Decimal | None) -> str:
        return ctx.text("status_total", total=ctx.money(amount)) if amount else ""

    lines = "\n".join(
        ctx.text(
            "status_line",
            ref=o.ref,
            state=ctx.text(f"state_{o.status.value}"),
            total=total(o.final_total or o.estimated_total),
        )
        for o in orders
    )
    return [ctx.compose([*parts, ctx.text("status_list", lines=lines)])]


def _draft(ctx: Context, retailer_id: int) -> list[str]:
    """The order still waiting for a YES (or a choice) comes first: it is what a shopkeeper who
    asks "status" right after ordering means."""
    draft = load_draft(ctx.session, retailer_id)
    if draft is None or draft.expired(datetime.now(UTC)) or not (draft.lines or draft.questions):
        return []
    parts = []
    if draft.lines:
        parts.append(ctx.text("status_draft", lines=lines_text(ctx, draft), total=ctx.money(draft.total)))
    if draft.questions:
        words = ", ".join(f'"{q.text}"' for q in draft.questions)
        parts.append(ctx.text("status_draft_question", words=words))
    return parts
