"""Domain refusals as replies: each one from the catalog, whole, in the reader's language.

The domain's own error text is English (it serves the dashboard and the logs too), so it is never
pasted into a Nepali reply: what a refusal was about is told from its type and the command it
answered (the order reference in it, the wholesaler's own answer on record).
"""

from __future__ import annotations

from domain.errors import CreditLimitExceeded, DomainError, InvalidInput, NotFound
from domain.offers import LateOffer, NotInvited, NoWholesalerAvailable
from domain.order_facts import invitation
from domain.orders import IllegalTransition
from handlers import Reply
from handlers.context import Context
from parsing.parser import Intent


def reply_for(ctx: Context, exc: DomainError, intent: Intent | None = None) -> Reply:
    ref = intent.order_ref if intent is not None else None
    if isinstance(exc, CreditLimitExceeded):
        return ctx.reply("credit_refused", available=ctx.money(exc.available), amount=ctx.money(exc.amount))  # type: ignore[arg-type]
    if isinstance(exc, NoWholesalerAvailable):
        return ctx.reply("no_wholesaler")
    if isinstance(exc, LateOffer):
        return ctx.reply("offer_late", ref=exc.order_ref)
    if isinstance(exc, IllegalTransition):
        return ctx.reply("cancel_refused", ref=exc.order_ref, state=ctx.text(f"state_{exc.from_status.value}"))
    if isinstance(exc, NotInvited) and ref:
        return ctx.reply("not_invited", ref=ref)
    if isinstance(exc, NotFound):
        if ref:
            return ctx.reply("order_not_found", ref=ref)
        if intent is not None and intent.phone:
            return ctx.reply("retailer_not_found", phone=intent.phone)
        return ctx.reply("not_found", detail=str(exc))
    if isinstance(exc, InvalidInput) and ref and ctx.wholesaler_id is not None:
        found = invitation(ctx.session, ref, ctx.wholesaler_id)
        if found is not None:
            order, offer = found
            if offer is not None and offer.responded_at is not None:
                return ctx.reply("already_answered", ref=ref, state=ctx.text(f"offer_{offer.status.value}"))
            return ctx.reply("order_not_waiting", ref=ref, state=ctx.text(f"state_{order.status.value}"))
    return ctx.reply("refused", detail=str(exc))
