"""The single entry the inbound job calls, inside the job's unit of work: parse the text with the
catalog, route the intent to its handler by the sender's role, and return the replies.

A handler runs in a savepoint: a domain refusal rolls back whatever it had written and becomes a
reply in the sender's language, so a refused command never leaves half a change behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from domain.drafts import forget_question, load_draft
from domain.errors import DomainError
from domain.order_facts import order_id_for_ref
from handlers import (
    Reply,
    Sender,
    balance,
    cancel,
    choices,
    confirm,
    fulfilment,
    help,
    offer,
    order,
    paid,
    pay,
    price,
    quantity,
    reminders,
    reorder,
    status,
    stock,
)
from handlers.catalog import catalog_snapshot, current_catalog
from handlers.context import Context
from handlers.errors import reply_for
from handlers.messages import reply_language
from handlers.order import choice_number
from parsing import commands as cmd
from parsing.commands import Command
from parsing.parser import Intent, parse
from thok.config import Settings

log = logging.getLogger(__name__)
Handler = Callable[[Context, Any], list[Reply]]  # each takes its own command type (ROUTES' key)

# The commands that answer (or make) the draft's question; any other forgets that question.
DRAFT_COMMANDS: frozenset[type[Command]] = frozenset(
    {cmd.PlaceOrder, cmd.Choose, cmd.Confirm, cmd.Decline, cmd.Reorder, cmd.ChangeDraft}
)
WHOLESALER_COMMANDS: frozenset[type[Command]] = frozenset(
    {cmd.Offer, cmd.Accept, cmd.Pass, cmd.Stock, cmd.Paid, cmd.Dispatched, cmd.Delivered}
)
RETAILER_COMMANDS: frozenset[type[Command]] = frozenset(
    {
        cmd.PlaceOrder,
        cmd.Choose,
        cmd.ChangeDraft,
        cmd.Confirm,
        cmd.Decline,
        cmd.Cancel,
        cmd.Pay,
        cmd.Reminders,
        cmd.Price,
        cmd.Reorder,
        cmd.RefusedQuantity,
    }
)


def _paid(ctx: Context, command: cmd.Paid) -> list[Reply]:
    # handlers/paid.py still reads the parse result's fields: hand it the same four.
    return paid.handle(
        ctx,
        Intent("paid", phone=command.phone, amount=command.amount, method=command.method, reference=command.reference),
    )


def _balance(ctx: Context, command: cmd.Balance) -> list[Reply]:
    return balance.handle(ctx, Intent("balance"))  # it reads the month from the message itself


SHARED: dict[type[Command], Handler] = {
    cmd.Help: help.handle,
    cmd.Greeting: help.greeting,
    cmd.SetLanguage: help.language,
    cmd.Status: status.handle,
    cmd.Unknown: help.unknown,
}
# Every command type has a handler for each role (tests/test_usecases_orders.py holds it): one
# meant for the other role gets a reply that says so, not "did not understand".
ROUTES: dict[str, dict[type[Command], Handler]] = {
    "retailer": SHARED
    | {
        cmd.PlaceOrder: order.handle,
        cmd.Choose: order.choose,
        cmd.ChangeDraft: choices.change,
        cmd.Confirm: confirm.handle,
        cmd.Decline: confirm.decline,
        cmd.Cancel: cancel.handle,
        cmd.Balance: _balance,
        cmd.Pay: pay.handle,
        cmd.Reminders: reminders.handle,
        cmd.Price: price.handle,
        cmd.Reorder: reorder.handle,
        cmd.RefusedQuantity: quantity.refused,
        **dict.fromkeys(WHOLESALER_COMMANDS, help.wholesaler_only),
    },
    "wholesaler": SHARED
    | {
        cmd.Offer: offer.offer,
        cmd.Accept: offer.accept,
        cmd.Pass: offer.pass_,
        cmd.Stock: stock.handle,
        cmd.Paid: _paid,
        cmd.Dispatched: fulfilment.dispatched,
        cmd.Delivered: fulfilment.delivered,
        cmd.Balance: help.handle,
        **dict.fromkeys(RETAILER_COMMANDS, help.unknown),
    },
}


def _unrouted() -> dict[str, list[str]]:
    return {role: [c.__name__ for c in cmd.COMMAND_TYPES if c not in routes] for role, routes in ROUTES.items()}


if any(_unrouted().values()):  # a command type added without its handler stops the process at start-up
    raise RuntimeError(f"commands without a handler: {_unrouted()}")


def understand(session: Session, sender: Sender, text: str) -> Intent:
    return parse(text, catalog_snapshot(session), role=sender.kind)


def _has_draft(session: Session, sender: Sender) -> bool:
    draft = load_draft(session, sender.id) if sender.id is not None else None
    return draft is not None and bool(draft.lines or draft.questions)


def handle_message(session: Session, sender: Sender, text: str, settings: Settings) -> list[Reply]:
    return respond(session, sender, text, settings)[1]


def respond(
    session: Session, sender: Sender, text: str, settings: Settings, shown: str | None = None
) -> tuple[str, list[Reply]]:
    """The intent it was taken as (for the message log) and the replies. `shown`: what the person
    saw and tapped (a button's title) when `text` is the command behind it: the reply follows the
    language of the title, not of the command ("पक्का गर्नु" taps YES, and is answered in Nepali)."""
    catalog = current_catalog(session)  # read once: the handlers take its products from the context
    intent = parse(text, catalog.parser, role=sender.kind)
    lang = reply_language(sender.language, shown or text, sender.default_language)
    ctx = Context(session, sender, settings, lang, text, catalog)
    command = cmd.command_for(intent)
    retailer = sender.kind == "retailer"
    if retailer and isinstance(command, cmd.PlaceOrder | cmd.Unknown) and not intent.items and choice_number(text):
        # "2" or "dosro" answers the numbered question about the draft, when there is one.
        draft = load_draft(session, sender.id) if sender.id is not None else None
        if draft is not None and draft.questions:
            command = cmd.Choose()
    if retailer and choices.asks_to_change(text) and _has_draft(session, sender):
        command = cmd.ChangeDraft()  # the summary's "Change" button (or the word alone): the draft stays
    elif retailer and pay.asks_to_pay(text):
        command = cmd.Pay()  # "pay 5000" / "तिर्नु": paying the khata from the chat (issue 17)
    elif retailer and balance.asks_for_statement(text):
        command = cmd.Balance()  # "बिल पठाउनु": the month's PDF statement (issue 17)
    elif retailer and reminders.choice(text) is not None:
        command = cmd.Reminders()  # STOP / START payment reminders (issue 17)
    if isinstance(command, cmd.PlaceOrder) and intent.bad_quantities:
        command = cmd.RefusedQuantity(intent.bad_quantities)  # asked back, never ordered (issue 13)
    name = cmd.name_of(command)  # for the message log
    handler = ROUTES.get(sender.kind, SHARED).get(type(command), help.unknown)
    if retailer and isinstance(command, cmd.Unknown):
        # A retailer typing a wholesaler's command deserves better than "did not understand".
        as_wholesaler = parse(text, catalog.parser, role="wholesaler").intent
        if cmd.NAMES[as_wholesaler] in WHOLESALER_COMMANDS:
            handler = help.wholesaler_only
    savepoint = session.begin_nested()
    try:
        replies = handler(ctx, command)
    except DomainError as exc:
        savepoint.rollback()
        log.info("%s refused for %s: %s", name, sender.kind, exc)
        replies = [reply_for(ctx, exc, intent.order_ref, intent.phone)]
    except DataError as exc:
        # A value no domain check caught and a column cannot hold (beyond NUMERIC's range, over a
        # VARCHAR): bad input, not a bug worth three retries and a FAILED message. The savepoint
        # takes the half-done write away; the sender is asked to check what they wrote.
        savepoint.rollback()
        sqlstate = getattr(exc.orig, "sqlstate", None)
        log.warning("%s from %s refused by PostgreSQL (SQLSTATE %s)", name, sender.kind, sqlstate)
        replies = [ctx.reply("input_too_large")]
    else:
        savepoint.commit()
    if intent.order_ref and any(r.order_id is None for r in replies):
        # A reply about a named order belongs to its thread (the dashboard's order page).
        order_id = order_id_for_ref(session, intent.order_ref)
        replies = [r if r.order_id or order_id is None else replace(r, order_id=order_id) for r in replies]
    if retailer and sender.id is not None and type(command) not in DRAFT_COMMANDS:
        # Another exchange came between the draft's question and the next answer: a later 👍 is
        # not a YES to it.
        forget_question(session, sender.id)
    return name, replies
