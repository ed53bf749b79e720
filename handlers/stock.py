"""`STOCK <product> <quantity>` from a wholesaler."""

from __future__ import annotations

from domain.catalog import set_stock
from domain.errors import OutOfRange, TooManyDecimals
from handlers import Reply
from handlers.context import Context
from parsing.commands import Stock


def handle(ctx: Context, command: Stock) -> list[Reply]:
    assert ctx.wholesaler_id is not None
    if len(command.items) != 1 or command.quantity is None:
        return [ctx.reply("stock_which")]
    try:
        row = set_stock(ctx.session, ctx.wholesaler_id, command.items[0].sku, command.quantity)
    except OutOfRange as exc:
        return [ctx.reply("stock_too_large", maximum=ctx.qty(exc.maximum))]
    except TooManyDecimals:
        return [ctx.reply("stock_decimals")]
    name = (row.product.name_ne or row.product.name) if ctx.lang == "ne" else row.product.name
    return [ctx.reply("stock_updated", name=name, quantity=ctx.qty(row.stock), unit=ctx.unit(row.product.unit))]
