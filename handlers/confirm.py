"""`confirm` (YES) places the drafted order; `decline` (NO) drops it.

A plain YES / हो places a live draft. A 👍, "ok" or "huncha" is a YES only as the answer to the
summary we just sent: people send those to say "thanks" or "seen", and an order placed on a guess
costs a shop real money.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import UTC, datetime

from domain.drafts import discard_draft, load_draft
from handlers import Reply, choices
from handlers.context import Context
from handlers.order import lines_text, present
from parsing.commands import Confirm, Decline
from usecases import orders
from usecases.actor import Actor

# Words that say YES on purpose (anything else the parser calls a confirmation is "soft").
EXPLICIT_YES = frozenset({"yes", "y", "yes.", "ho", "हो", "haan", "ha", "confirm", "pakka", "पक्का", "हजुर", "hajur"})
_WORD = re.compile(r"[^\s.,;:!?()\"'#]+")


def explicit_yes(text: str) -> bool:
    return bool(EXPLICIT_YES & {w.lower() for w in _WORD.findall(text)})


def handle(ctx: Context, command: Confirm) -> list[Reply]:
    assert ctx.retailer_id is not None
    now = datetime.now(UTC)
    draft = load_draft(ctx.session, ctx.retailer_id, lock=True)
    if draft is None or not (draft.lines or draft.questions):
        return [ctx.reply("nothing_to_confirm")]
    if draft.expired(now):
        discard_draft(ctx.session, ctx.retailer_id)
        minutes = max(1, math.ceil(ctx.settings.draft_ttl_seconds / 60))
        return [ctx.reply("draft_expired", minutes=ctx.qty(minutes))]
    if draft.questions:
        return [present(ctx, draft, [ctx.text("answer_first")])]
    if not explicit_yes(ctx.message) and not draft.soft_confirmable(now):
        asked = ctx.reply("confirm_explicit", lines=lines_text(ctx, draft), total=ctx.money(draft.total))
        return [replace(asked, choices=choices.summary(ctx.lang))]  # a tap is an explicit YES
    order = orders.place_order(ctx.session, Actor.retailer(ctx.retailer_id), draft, ctx.settings)
    minutes = max(1, math.ceil(ctx.settings.offer_window_seconds / 60))
    return [
        ctx.reply(
            "order_placed",
            order_id=order.id,
            ref=order.ref,
            count=ctx.qty(len(order.offers)),
            minutes=ctx.qty(minutes),
            total=ctx.money(order.estimated_total or draft.total),
        )
    ]


def decline(ctx: Context, command: Decline) -> list[Reply]:
    assert ctx.retailer_id is not None
    if discard_draft(ctx.session, ctx.retailer_id):
        return [ctx.reply("draft_discarded")]
    return [ctx.reply("nothing_to_confirm")]
