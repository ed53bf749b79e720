"""`price`: "tel ko rate kati?" answered with today's best price per unit from the wholesalers in
the retailer's district (the best elsewhere, said so, when none there has it), and how to order."""

from __future__ import annotations

from domain.catalog import products_by_sku
from domain.prices import best_prices_for
from handlers import Reply
from handlers.context import Context
from handlers.order import name_for
from parsing.commands import Price


def handle(ctx: Context, command: Price) -> list[Reply]:
    assert ctx.retailer_id is not None
    products = products_by_sku(ctx.session, command.products)
    if not products:
        return [ctx.reply("price_which")]
    found = best_prices_for(ctx.session, ctx.retailer_id, [p.id for p in products.values()])
    lines: list[str] = []
    for sku in command.products:
        product = products.get(sku)
        if product is None:
            continue
        name = name_for(ctx, product)
        unit = ctx.unit(product.unit)
        best = found.get(product.id)
        if best is None:
            lines.append(ctx.text("price_line_none", name=name))
        else:
            key = "price_line" if best.local else "price_line_elsewhere"
            lines.append(ctx.text(key, name=name, price=ctx.money(best.price), unit=unit))
    first = products[command.products[0]] if command.products[0] in products else next(iter(products.values()))
    example = f"{ctx.qty(2)} {ctx.unit(first.unit)} {name_for(ctx, first)}"
    return [ctx.reply("price_reply", lines="\n".join(lines), example=example)]
