"""An order whose quantity the parser refused (negative, zero, absurd, not a plain number): say
which quantity and why, and ask again. Nothing is ordered, and no quantity is ever repaired
(issue 13: "-5 kg" is not 5 kg, "1e308" is not 308)."""

from __future__ import annotations

from domain.catalog import products_by_sku
from handlers import Reply
from handlers.context import Context
from handlers.order import name_for
from parsing.commands import RefusedQuantity


def refused(ctx: Context, command: RefusedQuantity) -> list[Reply]:
    products = products_by_sku(ctx.session, {b.sku for b in command.bad if b.sku})
    parts: list[str] = []
    for bad in command.bad:
        product = products.get(bad.sku) if bad.sku else None
        name = ctx.text("quantity_for", name=name_for(ctx, product)) if product is not None else ""
        reason = ctx.text(f"quantity_reason_{bad.reason}")
        parts.append(ctx.text("quantity_refused", text=bad.text, name=name, reason=reason))
    parts.append(ctx.text("quantity_refused_ask"))
    return [ctx.compose(parts)]
