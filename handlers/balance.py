"""`balance` / `hisab`: the khata in the retailer's language, dates in Bikram Sambat.

"hisab mangsir" / "हिसाब कात्तिक" names a BS month: that month's statement in short (opening,
entries, closing). The month word is read from the message itself: the parser's job is the intent.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from domain.calendar import BsMonth, bs_date, month_in_text
from domain.ledger import balance, last_entries
from domain.statements import statement_rows
from handlers import Reply, choices
from handlers.context import Context
from handlers.pay import GATEWAY_NAMES
from handlers.statement_link import statement_url
from parsing.parser import Intent

MONTH_LINES = 12  # a WhatsApp message holds 1,600 characters; the PDF statement holds the rest


# "statement", "bil pathaunu", "बिल पठाउनु": the month's PDF as a WhatsApp document.
STATEMENT_WORDS = frozenset({"statement", "bil", "bill", "बिल", "विवरण", "stmt"})


def asks_for_statement(text: str) -> bool:
    return bool(STATEMENT_WORDS & set((text or "").lower().replace("?", " ").split()))


def handle(ctx: Context, intent: Intent) -> list[Reply]:
    assert ctx.retailer_id is not None
    month = month_in_text(ctx.message)
    if asks_for_statement(ctx.message):
        return [statement_reply(ctx, month or BsMonth.current())]
    if month is not None:
        return [month_reply(ctx, month)]
    bal = balance(ctx.session, ctx.retailer_id)
    entries = last_entries(ctx.session, ctx.retailer_id, 5)
    listed = ""
    if entries:
        lines = "\n".join(
            ctx.text(
                "balance_entry",
                date=bs_date(e.created_at, ctx.lang),
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
    gateways = ctx.settings.payment_gateways
    can_pay = bool(gateways) and bal.outstanding > 0
    if can_pay:  # how to pay, only where a gateway is set up to take it
        listed += ctx.text("balance_pay_hint", gateways=" / ".join(GATEWAY_NAMES[g] for g in gateways))
    reply = ctx.reply(
        "balance",
        limit=ctx.money(bal.credit_limit),
        outstanding=ctx.money(bal.outstanding),
        held=ctx.money(bal.held),
        available=ctx.money(max(bal.available, Decimal(0))),
        entries=listed,
    )
    # "Pay now" / "Show khata" as buttons where paying is possible; the pay hint above says the same.
    return [replace(reply, choices=choices.khata(ctx.lang, can_pay=True)) if can_pay else reply]


def month_reply(ctx: Context, month: BsMonth) -> Reply:
    assert ctx.retailer_id is not None
    rows = statement_rows(ctx.session, ctx.retailer_id, month.first_day, month.last_day)
    opening, entries = rows[0], rows[1:]
    shown = entries[-MONTH_LINES:]
    lines = "\n".join(
        ctx.text(
            "balance_entry",
            date=bs_date(r.when, ctx.lang) if r.when else "",
            kind=ctx.text(f"entry_{r.entry_type}"),
            amount=ctx.money(r.debit if r.debit is not None else r.credit or Decimal(0)),
            description=r.description,
            balance=ctx.money(r.balance),
        )
        for r in shown
    )
    closing = entries[-1].balance if entries else opening.balance
    hidden = len(entries) - len(shown)
    return ctx.reply(
        "balance_month",
        month=month.label(ctx.lang),
        opening=ctx.money(opening.balance),
        count=ctx.qty(len(entries)),
        lines=lines or ctx.text("balance_month_empty"),
        more=ctx.text("balance_month_more", hidden=ctx.qty(hidden)) if hidden else "",
        closing=ctx.money(closing),
    )


def statement_reply(ctx: Context, month: BsMonth) -> Reply:
    """The month's PDF (a signed link Twilio fetches) with its summary as the caption; where Thok
    cannot give a link (no public URL or key), the summary with the entries, as text."""
    assert ctx.retailer_id is not None
    url = statement_url(ctx.settings, ctx.retailer_id, month, ctx.lang)
    if url is None:
        return month_reply(ctx, month)
    rows = statement_rows(ctx.session, ctx.retailer_id, month.first_day, month.last_day)
    closing = rows[-1].balance
    caption = ctx.reply(
        "statement_caption",
        month=month.label(ctx.lang),
        opening=ctx.money(rows[0].balance),
        count=ctx.qty(len(rows) - 1),
        closing=ctx.money(closing),
    )
    return replace(caption, media_url=url)
