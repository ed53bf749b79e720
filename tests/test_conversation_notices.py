# ruff: noqa: F811  (pytest fixtures imported from other test modules are "redefined" as arguments)
"""Everyone told what they need: the wholesaler quotes from the items, the shop and the deadline;
the winner learns whom to deliver to; the retailer learns who won, the price and the day."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from db.models import Order, OrderStatus, VendorOffer, Wholesaler
from tests.fake_twilio import fake_twilio, thok_settings  # noqa: F401
from tests.test_conversation_flows import SURESH, chat  # noqa: F401


def invited(chat: Any, ref: str) -> list[tuple[str, str | None, str]]:
    """(phone, seeded language, business name) of the wholesalers invited to the order."""
    with chat.db.session() as s:
        rows = s.execute(
            select(Wholesaler.whatsapp_number, Wholesaler.language, Wholesaler.business_name)
            .join(VendorOffer, VendorOffer.wholesaler_id == Wholesaler.id)
            .join(Order, Order.id == VendorOffer.order_id)
            .where(Order.ref == ref)
            .order_by(Wholesaler.id)
        ).all()
    return [(phone, lang.value if lang else None, name) for phone, lang, name in rows]


WHOLESALERS = {  # phone: what each writes first (their script decides the language they are answered in)
    "+9779851000001": "स्थिति",
    "+9779851000002": "status",  # the seed says Nepali: their Latin letters win
    "+9779856000003": "status",
    "+9779855000004": "स्थिति",
    "+9779852000005": "स्थिति",  # the seed says English: their Devanagari wins
}


def test_every_party_is_told_what_they_need_in_their_language(chat: Any) -> None:
    for phone, text in WHOLESALERS.items():  # inside WhatsApp's 24-hour window: free text, no template
        chat.send(phone, text)
    chat.send(SURESH, "2 bora jeera masino, 5 kg masoor dal")
    placed = chat.send(SURESH, "YES")
    ref = re.search(r"TK-[A-Z0-9]+", placed).group(0)  # type: ignore[union-attr]
    assert "If nobody offers, nothing is charged" in placed and "estimate NPR " in placed
    wholesalers = invited(chat, ref)
    assert len(wholesalers) >= 3

    # The offer request: items with quantity, unit and the wholesaler's own price, the shop, the
    # district, the deadline in Nepal time and the commands — in the language they last wrote in.
    for phone, _, _ in wholesalers:
        invite = chat.received(phone)[-1]
        lang = "ne" if WHOLESALERS[phone] == "स्थिति" else "en"
        assert f"OFFER {ref} " in invite and f"ACCEPT {ref}" in invite and f"PASS {ref}" in invite
        if lang == "ne":
            assert f"नयाँ अर्डर {ref}, KC Mart (Lalitpur) बाट:" in invite and "(नेपाल समय)" in invite
            assert re.search(r"• २ बोरा जीरा मसिनो चामल @ रु [०-९,]+/बोरा", invite), invite
            assert re.search(r"• ५ केजी मसुरो दाल @ रु [०-९,]+/केजी", invite), invite
        else:
            assert f"New order {ref} from KC Mart, Lalitpur:" in invite and "(Nepal time)" in invite
            assert re.search(r"• 2 bora Jeera Masino Rice @ NPR [0-9,]+/bora", invite), invite
            assert re.search(r"Answer by \d\d:\d\d, \d+ [A-Z][a-z]{2} \(Nepal time\)", invite), invite

    # STATUS names the shop and the items of each open request, not just its number.
    status = chat.send(wholesalers[0][0], "STATUS")
    assert status.startswith(f"Your open work:\n{ref}, KC Mart: waiting for offers — NPR ")
    assert "• 2 bora Jeera Masino Rice" in status and "• 5 kg Masoor Dal" in status

    # An ACCEPT inside the offer window is told plainly what it did and what comes next.
    first, second, *rest = [phone for phone, _, _ in wholesalers]
    early = chat.send(first, f"ACCEPT {ref}")
    assert early.startswith(f"Thank you: you accepted {ref} at your catalog prices. Offers are still open")
    chat.send(second, f"OFFER {ref} 1000 tomorrow")
    for phone in rest:
        chat.send(phone, f"PASS {ref}")  # the last answer closes the window early

    with chat.db.session() as s:
        order = s.scalars(select(Order).where(Order.ref == ref)).one()
        assert order.status is OrderStatus.WHOLESALER_SELECTED
        winner = s.get(Wholesaler, order.final_wholesaler_id)
        winner_phone, winner_name = winner.whatsapp_number, winner.business_name
    # The winner wrote in Latin letters, so the news comes in English: whom to deliver what to.
    won = chat.received(winner_phone)[-1]
    assert won.startswith(f"You won order {ref} at NPR ")
    assert "Deliver to KC Mart (Suresh KC), +9779841000103, Lalitpur." in won
    assert "• 2 bora Jeera Masino Rice" in won and "• 5 kg Masoor Dal" in won
    # The retailer: who won, the price, and the delivery day when the offer named one.
    told = chat.received(SURESH)[-1]
    assert told.startswith(f"Order {ref}: {winner_name} gave the best offer, NPR ")
    if winner_phone == second:
        assert ", delivery tomorrow (" in told

    confirmed = chat.send(winner_phone, f"ACCEPT {ref}")
    assert f"DISPATCHED {ref}" in confirmed
    told = chat.received(SURESH)[-1]
    assert told.startswith(f"Order {ref} is confirmed: {winner_name} delivers it") and "• 2 bora" in told
    chat.send(winner_phone, f"DISPATCHED {ref}")
    assert chat.received(SURESH)[-1] == f"Order {ref} is on its way from {winner_name}."
    chat.send(winner_phone, f"DELIVERED {ref}")
    assert chat.received(SURESH)[-1].startswith(f"Order {ref} is delivered.")
