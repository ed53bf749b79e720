"""A wholesaler's answers to an invitation: `offer`, `accept`, `pass`."""

from __future__ import annotations

from domain.decision import answer_accept, answer_pass
from domain.errors import OutOfRange, TooManyDecimals
from domain.offers import submit_offer
from handlers import Reply
from handlers.context import Context
from parsing.parser import Intent


def _missing_ref(ctx: Context, command: str) -> list[Reply]:
    return [ctx.reply("need_ref", command=command)]


def offer(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.wholesaler_id is not None
    if intent.order_ref and intent.price is None:
        # "OFFER TK-…" alone: the invitation's "Make an offer" button; ask for the total.
        return [ctx.reply("offer_ask_price", ref=intent.order_ref)]
    if not intent.order_ref or intent.price is None:
        return _missing_ref(ctx, "OFFER")
    try:
        made = submit_offer(ctx.session, ctx.wholesaler_id, intent.order_ref, intent.price, intent.delivery_days)
    except OutOfRange as exc:
        return [ctx.reply("offer_too_large", ref=intent.order_ref, maximum=ctx.money(exc.maximum))]
    except TooManyDecimals:
        return [ctx.reply("offer_paisa", ref=intent.order_ref)]
    delivery = ctx.text("delivery_in_days", days=made.delivery_days) if made.delivery_days is not None else ""
    return [
        ctx.reply(
            "offer_received",
            order_id=made.order_id,
            ref=intent.order_ref,
            price=ctx.money(made.total_price),
            delivery=delivery,
        )
    ]


def accept(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.wholesaler_id is not None
    if not intent.order_ref:
        return _missing_ref(ctx, "ACCEPT")
    outcome = answer_accept(ctx.session, ctx.wholesaler_id, intent.order_ref, ctx.settings)
    key = "order_confirmed_wholesaler" if outcome == "confirmed" else "accept_received"
    return [ctx.reply(key, ref=intent.order_ref)]


def pass_(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.wholesaler_id is not None
    if not intent.order_ref:
        return _missing_ref(ctx, "PASS")
    outcome = answer_pass(ctx.session, ctx.wholesaler_id, intent.order_ref, ctx.settings)
    return [ctx.reply("win_released" if outcome == "released" else "pass_received", ref=intent.order_ref)]
