"""`PAID 98XXXXXXXX 5000 esewa REF` from a wholesaler: one payment towards what that retailer owes
*this* wholesaler, one CREDIT entry, and the retailer is told.

A wholesaler moves only its own money (ledger_post refuses the rest, migration 0006). About a shop
it has no open balance with, whatever the reason (the number is not registered, they never traded,
it is paid up), the answer is the same one sentence: it learns nothing it did not know.
"""

from __future__ import annotations

from domain.credit import owed_to_wholesaler, retailer_by_phone, wholesaler_label
from domain.errors import NotFound
from domain.events import Notice, notify
from domain.khata_payments import ReferenceTooLong, record_payment
from domain.ledger import NoOpenBalance, balance
from domain.phones import normalize_phone
from handlers import Reply
from handlers.context import Context
from parsing.parser import Intent


def handle(ctx: Context, intent: Intent) -> list[Reply]:
    wholesaler_id = ctx.wholesaler_id
    assert wholesaler_id is not None
    if not intent.phone or intent.amount is None or not intent.method:
        return [ctx.reply("wholesaler_help")]
    phone = normalize_phone(intent.phone)  # a malformed number is a typo, answered as such
    neutral = [ctx.reply("no_open_balance", phone=phone)]
    try:
        retailer = retailer_by_phone(ctx.session, phone)
        payment, _ = record_payment(
            ctx.session,
            retailer_id=retailer.id,
            amount=intent.amount,
            method=intent.method,
            reference=intent.reference,
            recorded_by_wholesaler_id=wholesaler_id,
        )
    except (NotFound, NoOpenBalance):
        return neutral
    except ReferenceTooLong as exc:
        return [ctx.reply("payment_reference_too_long", length=exc.length, limit=exc.limit)]
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
                "wholesaler": wholesaler_label(ctx.session, wholesaler_id),
                "amount": ctx.money(payment.amount),
                "method": method,
                "outstanding": ctx.money(balance(ctx.session, retailer.id).outstanding),
            },
        ),
    )
    return [
        ctx.reply(
            "payment_recorded",
            amount=ctx.money(payment.amount),
            retailer=retailer.shop_name or retailer.name,
            method=method,
            # What they owe this wholesaler, never the shop's total with everyone.
            outstanding=ctx.money(owed_to_wholesaler(ctx.session, retailer.id, wholesaler_id)),
        )
    ]
