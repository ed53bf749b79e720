"""`pay` / `tirnu`: a retailer asks to pay their khata from the chat; they get one link per gateway.

"pay" pays all that is owed, "pay 5000" / "तिर्नु ५०००" part of it. The words are read here from the
message (the parser's intents are about orders); dispatch sends a retailer's message here when its
first word is one of PAY_WORDS.
"""

from __future__ import annotations

import re
from datetime import timedelta

from domain.calendar import NEPAL, bs_date
from domain.credit import account_balance
from domain.errors import InvalidInput
from domain.money import digits_for
from domain.payment_requests import MoreThanDue, NothingDue, open_request, paid_to
from handlers import Reply
from handlers.context import Context
from parsing.commands import Pay
from payments.links import link_urls

PAY_WORDS = frozenset({"pay", "paynow", "tirnu", "tirchu", "tirne", "तिर्नु", "तिर्छु", "तिर्ने"})
GATEWAY_NAMES = {"khalti": "Khalti", "esewa": "eSewa"}
_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")
_AMOUNT = re.compile(r"[0-9]{1,3}(?:,[0-9]{2,3})*(?:\.[0-9]{1,2})?|[0-9]+(?:\.[0-9]{1,2})?")
# Words that may stand around the amount ("pay rs 500 now", "khalti bata tirnu"): not the amount.
FILLER = frozenset({"rs", "npr", "रु", "rupees", "rupaiya", "रुपैयाँ", "now", "aba", "ahile", "अहिले", "khalti", "esewa"})


def asks_to_pay(text: str) -> bool:
    """A pay word first, then nothing or an amount: "pay", "pay 5000", "तिर्नु ५००". "tirnu kati
    cha?" (how much do I owe?) is a balance question, left to the parser."""
    words = (text or "").translate(_DIGITS).strip().lower().split()
    if not words or words[0].strip("!.,") not in PAY_WORDS:
        return False
    rest = [w for w in words[1:] if w.strip(".") not in FILLER]
    return not rest or any(ch.isdigit() for ch in "".join(rest))


def handle(ctx: Context, command: Pay) -> list[Reply]:
    assert ctx.retailer_id is not None
    gateways = ctx.settings.payment_gateways
    if not gateways:
        owed = account_balance(ctx.session, ctx.retailer_id).outstanding
        return [ctx.reply("pay_none_configured", outstanding=ctx.money(owed))]
    words = [w for w in (ctx.message or "").translate(_DIGITS).lower().split()[1:] if w.strip(".") not in FILLER]
    if len(words) > 1 or (words and not _AMOUNT.fullmatch(words[0])):
        return [ctx.reply("pay_bad_amount")]
    try:
        request = open_request(
            ctx.session,
            ctx.retailer_id,
            words[0] if words else None,
            timedelta(seconds=ctx.settings.payment_link_ttl_seconds),
        )
    except NothingDue:
        return [ctx.reply("pay_nothing_due")]
    except MoreThanDue as exc:
        return [ctx.reply("pay_more_than_due", asked=ctx.money(exc.asked), due=ctx.money(exc.due))]
    except InvalidInput:
        return [ctx.reply("pay_bad_amount")]
    links = "\n".join(
        ctx.text("pay_link_line", gateway=GATEWAY_NAMES[gw], url=url)
        for gw, url in link_urls(ctx.settings, request.token).items()
    )
    name = paid_to(ctx.session, request)
    clock = digits_for(f"{request.expires_at.astimezone(NEPAL):%H:%M}", ctx.lang)
    until = f"{bs_date(request.expires_at, ctx.lang)} {clock}"
    return [
        ctx.reply(
            "pay_links",
            amount=ctx.money(request.amount),
            to=ctx.text("pay_to", name=name) if name else "",
            links=links,
            until=until,
        )
    ]
