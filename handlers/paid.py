"""`PAID 98XXXXXXXX 5000 esewa REF` from a wholesaler: one payment towards what that retailer owes
*this* wholesaler (`usecases.khata.record_payment`: the CREDIT, the audit row, the retailer told).

A wholesaler moves only its own money (ledger_post refuses the rest, migration 0006). About a shop
it has no open balance with, whatever the reason (the number is not registered, they never traded,
it is paid up), the answer is the same one sentence: it learns nothing it did not know.
"""

from __future__ import annotations

from decimal import Decimal

from domain.credit import retailer_by_phone
from domain.errors import NotFound
from domain.khata_payments import ReferenceTooLong
from domain.ledger import NoOpenBalance
from domain.phones import normalize_phone
from handlers import Reply
from handlers.context import Context
from parsing.parser import Intent
from usecases import khata
from usecases.actor import Actor


def handle(ctx: Context, intent: Intent) -> list[Reply]:
    wholesaler_id = ctx.wholesaler_id
    assert wholesaler_id is not None
    if not intent.phone or intent.amount is None or not intent.method:
        return [ctx.reply("wholesaler_help")]
    phone = normalize_phone(intent.phone)  # a malformed number is a typo, answered as such
    try:
        retailer = retailer_by_phone(ctx.session, phone)
        done = khata.record_payment(
            ctx.session,
            Actor.wholesaler(wholesaler_id),
            retailer_id=retailer.id,
            amount=intent.amount,
            method=intent.method,
            reference=intent.reference,
        )
    except (NotFound, NoOpenBalance):
        return [ctx.reply("no_open_balance", phone=phone)]
    except ReferenceTooLong as exc:
        return [ctx.reply("payment_reference_too_long", length=exc.length, limit=exc.limit)]
    return [
        ctx.reply(
            "payment_recorded",
            amount=ctx.money(done.payment.amount),
            retailer=done.retailer.shop_name or done.retailer.name,
            method=khata.method_label(done.payment.method),
            # What they owe this wholesaler, never the shop's total with everyone.
            outstanding=ctx.money(done.owed_to_wholesaler or Decimal(0)),
        )
    ]
