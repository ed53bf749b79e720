"""`balance` / `hisab`: the khata in the retailer's language."""

from __future__ import annotations

from decimal import Decimal

from bot.parser import Intent
from domain.ledger import balance, last_entries
from handlers import Reply
from handlers.context import Context


def handle(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.retailer_id is not None
    bal = balance(ctx.session, ctx.retailer_id)
    entries = last_entries(ctx.session, ctx.retailer_id, 5)
    listed = ""
    if entries:
        lines = "\n".join(
            ctx.text(
                "balance_entry",
                date=f"{e.created_at:%Y-%m-%d}",
                kind=ctx.text(f"entry_{e.entry_type.value}"),
                amount=ctx.money(e.amount),
                description=e.description,
                balance=ctx.money(e.balance_after),
            )
            for e in entries
        )
        listed = ctx.text("balance_entries", lines=lines)
    if bal.advance > 0:  # a cancellation returned more than was owed: theirs, used by the next order
        listed = ctx.text("balance_advance", advance=ctx.money(bal.advance)) + listed
    return [
        ctx.reply(
            "balance",
            limit=ctx.money(bal.credit_limit),
            outstanding=ctx.money(bal.outstanding),
            held=ctx.money(bal.held),
            available=ctx.money(max(bal.available, Decimal(0))),
            entries=listed,
        )
    ]
