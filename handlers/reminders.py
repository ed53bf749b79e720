"""STOP / रोक्नुहोस्: no more payment reminders; START / सुरु: them again (issue 17).

Only the whole message counts ("stop" alone), so a sentence that happens to hold the word is
understood as whatever else it says. The choice is the shop's, and it is audited."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.reminders import set_reminders
from handlers import Reply
from handlers.context import Context
from parsing.commands import Reminders

STOP_WORDS = frozenset({"stop", "रोक्नुहोस्", "रोक", "roknuhos", "roknus", "rokna"})
START_WORDS = frozenset({"start", "सुरु", "suru"})


def choice(text: str) -> bool | None:
    """True for START, False for STOP, None for any other message."""
    word = (text or "").strip().strip("!.।").lower()
    return True if word in START_WORDS else False if word in STOP_WORDS else None


def handle(ctx: Context, command: Reminders) -> list[Reply]:
    assert ctx.retailer_id is not None
    on = choice(ctx.message)
    assert on is not None
    set_reminders(ctx.session, ctx.retailer_id, on=on, now=datetime.now(UTC))
    return [ctx.reply("reminders_started" if on else "reminders_stopped")]
