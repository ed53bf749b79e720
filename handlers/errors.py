"""Domain refusals as replies: each error type has its catalog text, in the sender's language."""

from __future__ import annotations

from domain.errors import CreditLimitExceeded, DomainError, NotFound
from domain.offers import LateOffer, NoWholesalerAvailable
from domain.orders import IllegalTransition
from handlers import Reply
from handlers.context import Context


def reply_for(ctx: Context, exc: DomainError) -> Reply:
    if isinstance(exc, CreditLimitExceeded):
        return ctx.reply("credit_refused", available=ctx.money(exc.available), amount=ctx.money(exc.amount))  # type: ignore[arg-type]
    if isinstance(exc, NoWholesalerAvailable):
        return ctx.reply("no_wholesaler")
    if isinstance(exc, LateOffer):
        return ctx.reply("offer_late", ref=exc.order_ref)
    if isinstance(exc, IllegalTransition):
        return ctx.reply("cancel_refused", ref=exc.order_ref, state=ctx.text(f"state_{exc.from_status.value}"))
    if isinstance(exc, NotFound):
        return ctx.reply("not_found", detail=str(exc))
    return ctx.reply("refused", detail=str(exc))
