"""Domain refusals as replies: each one from the catalog, whole, in the reader's language.

A domain error carries a `code` (its catalog key) and `values` (the facts it quotes); this module
renders those. The domain's own English text (`str(exc)`) serves the dashboard and the logs: an
English reader may see it where a catalog text quotes `{detail}`, a Nepali reader never does (no
Nepali text has a `{detail}`; tests/test_usecases_orders.py holds every code to that). What the
refusal was about that the error does not know (the order named in the command, the wholesaler's
own answer on record) is read from the command and the database.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from string import Formatter
from typing import Any

from db.models import OfferStatus, OrderStatus
from domain.errors import DomainError, InvalidInput, NotFound
from domain.order_facts import invitation
from domain.orders import IllegalTransition
from handlers import Reply
from handlers.context import Context
from handlers.messages import CATALOG, LANGUAGES

# Values that are amounts of money (the rest of the numbers are counts and quantities).
MONEY_VALUES = frozenset({"amount", "available", "asked", "due", "maximum", "owed", "outstanding", "total", "price"})


def catalog_fields(key: str) -> set[str]:
    """The placeholders a catalog entry quotes, in any language."""
    return {name for lang in LANGUAGES for _, name, _, _ in Formatter().parse(CATALOG[key].get(lang, "")) if name}


def _shown(ctx: Context, name: str, value: Any) -> str:
    """One value as the reader reads it: a state in words, money and numbers in their numerals."""
    if isinstance(value, OrderStatus):
        return ctx.text(f"state_{value.value}")
    if isinstance(value, OfferStatus):
        return ctx.text(f"offer_{value.value}")
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return ctx.money(Decimal(value)) if name in MONEY_VALUES else ctx.qty(value)
    return "" if value is None else str(value)


def render(ctx: Context, key: str, exc: DomainError, **known: Any) -> Reply:
    """The catalog entry `key` filled from the error's values, then what the caller knows; a
    placeholder neither has is left empty rather than failing the reply."""
    facts: dict[str, Any] = {**known, **{k: v for k, v in exc.values.items() if v is not None}}
    facts["detail"] = str(exc)  # English texts only (see the module's docstring)
    return ctx.compose([ctx.text(key, **{name: _shown(ctx, name, facts.get(name)) for name in catalog_fields(key)})])


def _transition_key(exc: IllegalTransition) -> str:
    if exc.to_status is OrderStatus.CANCELLED:
        return "cancel_refused"
    if exc.from_status is OrderStatus.WHOLESALER_SELECTED and exc.to_status in (
        OrderStatus.DISPATCHED,
        OrderStatus.DELIVERED,
    ):
        return "dispatch_before_accept"
    if exc.from_status is OrderStatus.CONFIRMED and exc.to_status is OrderStatus.DELIVERED:
        return "deliver_before_dispatch"
    return "illegal_transition"


def reply_for(ctx: Context, exc: DomainError, ref: str | None = None, phone: str | None = None) -> Reply:
    """The reply to a refused command. `ref` and `phone`: what the command named, for the errors
    that do not carry them."""
    if isinstance(exc, IllegalTransition):
        to = ctx.text(f"to_{exc.to_status.value}")
        return render(ctx, _transition_key(exc), exc, state=exc.from_status, to=to)
    if isinstance(exc, InvalidInput) and exc.code == "invalid_input" and ref and ctx.wholesaler_id is not None:
        # A generic refusal of a wholesaler's answer: say where their invitation stands.
        found = invitation(ctx.session, ref, ctx.wholesaler_id)
        if found is not None:
            order, offer = found
            if offer is not None and offer.responded_at is not None:
                return ctx.reply("already_answered", ref=ref, state=ctx.text(f"offer_{offer.status.value}"))
            return ctx.reply("order_not_waiting", ref=ref, state=ctx.text(f"state_{order.status.value}"))
    if type(exc) is NotFound and exc.code == "not_found":
        # A lookup with no narrower code: the command's own words say what was not found.
        if ref:
            return ctx.reply("order_not_found", ref=ref)
        if phone:
            return ctx.reply("retailer_not_found", phone=phone)
    return render(ctx, exc.code, exc, ref=ref, phone=phone)
