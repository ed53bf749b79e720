"""`PAID 98XXXXXXXX 5000 esewa REF` from a wholesaler: one payment, one CREDIT entry, and the
retailer is told."""

from __future__ import annotations

from bot.parser import Intent
from domain.credit import retailer_by_phone, wholesaler_label
from domain.events import Notice, notify
from domain.ledger import balance, record_payment
from handlers import Reply
from handlers.context import Context


def handle(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.wholesaler_id is not None
    if not intent.phone or intent.amount is None or not intent.method:
        return [ctx.reply("wholesaler_help")]
    retailer = retailer_by_phone(ctx.session, intent.phone)
    payment, _ = record_payment(
        ctx.session,
        retailer_id=retailer.id,
        amount=intent.amount,
        method=intent.method,
        reference=intent.reference,
        recorded_by_wholesaler_id=ctx.wholesaler_id,
    )
    outstanding = ctx.money(balance(ctx.session, retailer.id).outstanding)
    method = payment.method.value.replace("_", " ").title()
    notify(
        ctx.session,
        Notice(
            key="payment_received",
            to_kind="retailer",
            to_id=retailer.id,
            dedupe_key=f"payment:{payment.id}",
            kind="payment_update",
            params={
                "wholesaler": wholesaler_label(ctx.session, ctx.wholesaler_id),
                "amount": ctx.money(payment.amount),
                "method": method,
                "outstanding": outstanding,
            },
        ),
    )
    return [
        ctx.reply(
            "payment_recorded",
            amount=ctx.money(payment.amount),
            retailer=retailer.shop_name or retailer.name,
            method=method,
            outstanding=outstanding,
        )
    ]
