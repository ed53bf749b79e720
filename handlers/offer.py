"""A wholesaler's answers to an invitation: `offer`, `accept`, `pass` (usecases.offers)."""

from __future__ import annotations

from domain.errors import OutOfRange, TooManyDecimals
from handlers import Reply
from handlers.context import Context
from parsing.commands import Accept, Offer, Pass
from usecases import offers
from usecases.actor import Actor


def _missing_ref(ctx: Context, command: str) -> list[Reply]:
    return [ctx.reply("need_ref", command=command)]


def offer(ctx: Context, command: Offer) -> list[Reply]:
    assert ctx.wholesaler_id is not None
    if command.ref and command.price is None:
        # "OFFER TK-…" alone: the invitation's "Make an offer" button; ask for the total.
        return [ctx.reply("offer_ask_price", ref=command.ref)]
    if not command.ref or command.price is None:
        return _missing_ref(ctx, "OFFER")
    actor = Actor.wholesaler(ctx.wholesaler_id)
    try:
        made = offers.submit_offer(ctx.session, actor, command.ref, command.price, command.delivery_days)
    except OutOfRange as exc:
        return [ctx.reply("offer_too_large", ref=command.ref, maximum=ctx.money(exc.maximum))]
    except TooManyDecimals:
        return [ctx.reply("offer_paisa", ref=command.ref)]
    delivery = ctx.text("delivery_in_days", days=made.delivery_days) if made.delivery_days is not None else ""
    return [
        ctx.reply(
            "offer_received",
            order_id=made.order_id,
            ref=command.ref,
            price=ctx.money(made.total_price),
            delivery=delivery,
        )
    ]


def accept(ctx: Context, command: Accept) -> list[Reply]:
    assert ctx.wholesaler_id is not None
    if not command.ref:
        return _missing_ref(ctx, "ACCEPT")
    answered = offers.accept(ctx.session, Actor.wholesaler(ctx.wholesaler_id), command.ref, ctx.settings)
    key = "order_confirmed_wholesaler" if answered.outcome == "confirmed" else "accept_received"
    return [ctx.reply(key, ref=command.ref)]


def pass_(ctx: Context, command: Pass) -> list[Reply]:
    assert ctx.wholesaler_id is not None
    if not command.ref:
        return _missing_ref(ctx, "PASS")
    answered = offers.pass_(ctx.session, Actor.wholesaler(ctx.wholesaler_id), command.ref, ctx.settings)
    return [ctx.reply("win_released" if answered.outcome == "released" else "pass_received", ref=command.ref)]
