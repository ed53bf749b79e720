"""The tappable answers a reply offers (WhatsApp reply buttons and lists), built beside the text.

Each choice's id is the command text it stands for, so a tapped button and the same words typed
are one command to the dispatcher, and the body, which names the same answers as text, works on
any phone and in the simulator. Titles are the reader's language and WhatsApp's lengths: a reply
button holds 20 characters, a list row 24.
"""

from __future__ import annotations

import re

from domain.drafts import load_draft
from handlers import Choice, Reply
from handlers.context import Context
from handlers.messages import t
from parsing.commands import ChangeDraft

BUTTON_TITLE_MAX = 20
ROW_TITLE_MAX = 24
MAX_BUTTONS = 3
MAX_ROWS = 10
CHANGE_ID = "CHANGE"
# The whole message, alone, asks to change the pending draft (the summary's "Change" button).
CHANGE_WORDS = frozenset({"change", "badalnu", "badlnu", "बदल्नु", "बदल्ने", "edit"})
_WORD = re.compile(r"[^\s.,;:!?()\"'#]+")


def fit(title: str, limit: int) -> str:
    """A title WhatsApp accepts: cut with an ellipsis rather than refused."""
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def buttons(lang: str, *pairs: tuple[str, str]) -> tuple[Choice, ...]:
    """(command, catalog key of its title) → reply buttons, at most three."""
    return tuple(Choice(command, fit(t(key, lang), BUTTON_TITLE_MAX)) for command, key in pairs[:MAX_BUTTONS])


def rows(titles: list[str]) -> tuple[Choice, ...]:
    """A numbered question's options as list rows: the id is the number a person would type."""
    return tuple(Choice(str(n), fit(title, ROW_TITLE_MAX)) for n, title in enumerate(titles[:MAX_ROWS], start=1))


def summary(lang: str) -> tuple[Choice, ...]:
    return buttons(lang, ("YES", "btn_confirm"), (CHANGE_ID, "btn_change"), ("NO", "btn_cancel"))


def offer_invite(lang: str, ref: str) -> tuple[Choice, ...]:
    return buttons(lang, (f"ACCEPT {ref}", "btn_accept"), (f"OFFER {ref}", "btn_offer"), (f"PASS {ref}", "btn_pass"))


def offer_won(lang: str, ref: str) -> tuple[Choice, ...]:
    return buttons(lang, (f"ACCEPT {ref}", "btn_confirm_win"), (f"PASS {ref}", "btn_pass"))


def khata(lang: str, can_pay: bool) -> tuple[Choice, ...]:
    """ "Show khata", and "Pay now" only where a pay reply exists (a gateway is configured)."""
    pairs = [("pay", "btn_pay")] if can_pay else []
    return buttons(lang, *pairs, ("hisab", "btn_khata"))


def asks_to_change(text: str) -> bool:
    words = [w.lower() for w in _WORD.findall(text)]
    return len(words) == 1 and words[0] in CHANGE_WORDS


def change(ctx: Context, command: ChangeDraft) -> list[Reply]:
    """The summary's "Change": the draft stays; say how to add, replace or drop items."""
    assert ctx.retailer_id is not None
    draft = load_draft(ctx.session, ctx.retailer_id)
    if draft is None or not (draft.lines or draft.questions):
        return [ctx.reply("nothing_to_confirm")]
    return [ctx.reply("draft_change")]


def for_notice(key: str, lang: str, ref: str | None, can_pay: bool = False) -> tuple[Choice, ...]:
    """The buttons a notice about an order carries (the notice's text names the same commands)."""
    if not ref:
        return ()
    if key == "offer_invite":
        return offer_invite(lang, ref)
    if key == "offer_won":
        return offer_won(lang, ref)
    if key == "order_confirmed":
        return khata(lang, can_pay)
    return ()
