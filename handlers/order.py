"""`order`: parse → check every line against the catalog → keep a draft → ask for YES.

Nothing is ordered on a guess: an ambiguous or unknown product, or a unit the product is not sold
in, is asked back and no draft is kept.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal

from bot.parser import Intent
from domain.catalog import best_prices, products_by_sku, to_product_unit
from domain.drafts import DraftLine, save_draft
from handlers import Reply
from handlers.context import Context


def _name(ctx: Context, name: str, name_ne: str | None) -> str:
    return (name_ne or name) if ctx.lang == "ne" else name


def handle(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.retailer_id is not None
    skus = {i.sku for i in intent.items} | {c for a in intent.ambiguities for c in a.candidates}
    products = products_by_sku(ctx.session, skus)
    asks: list[Reply] = []
    for amb in intent.ambiguities:
        options = ", ".join(
            _name(ctx, products[c].name, products[c].name_ne) for c in amb.candidates[:4] if c in products
        )
        asks.append(ctx.reply("ask_ambiguous", text=amb.text, options=options))
    for text in intent.unmatched:
        asks.append(ctx.reply("ask_unmatched", text=text, suggestion=""))
    if asks:
        return asks

    # Merge repeated products ("2 bora chamal ... 1 bora chamal") into one line each.
    wanted: OrderedDict[str, tuple[Decimal, str]] = OrderedDict()
    for item in intent.items:
        product = products[item.sku]
        quantity = to_product_unit(item.quantity, item.unit, product.unit.value)
        if quantity is None or quantity <= 0:
            name = _name(ctx, product.name, product.name_ne)
            return [ctx.reply("unit_mismatch", name=name, unit=ctx.unit(product.unit.value))]
        previous = wanted.get(item.sku, (Decimal(0), ""))
        wanted[item.sku] = (previous[0] + quantity, (previous[1] + " " + item.matched_text).strip())

    prices = best_prices(ctx.session, [products[sku].id for sku in wanted])
    lines: list[DraftLine] = []
    for sku, (quantity, raw) in wanted.items():
        product = products[sku]
        name = _name(ctx, product.name, product.name_ne)
        if product.id not in prices:
            return [ctx.reply("not_available", name=name)]
        lines.append(DraftLine(product.id, sku, name, quantity, product.unit.value, prices[product.id], raw))
    save_draft(ctx.session, ctx.retailer_id, lines, ctx.settings.draft_ttl_seconds)
    rendered = "\n".join(
        ctx.text(
            "order_line",
            quantity=ctx.qty(ln.quantity),
            unit=ctx.unit(ln.unit),
            name=ln.name,
            amount=ctx.money(ln.amount),
        )
        for ln in lines
    )
    total = sum((ln.amount for ln in lines), Decimal(0))
    return [ctx.reply("order_summary", lines=rendered, total=ctx.money(total))]
