# ruff: noqa: F811  (pytest fixtures imported from other test modules are "redefined" as arguments)
"""Every example a newcomer is shown — the README's, the simulator's placeholder, both roles' HELP
in both languages — is sent through the webhook and the worker on the demo catalog, and must be
understood: no "did not understand", no fallback HELP, no refusal.

The examples are read from where people read them (README.md, the simulator's template, the
message catalog), so an example edited there is tested as edited."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import InboundMessage, Order, OrderDraft, OrderStatus, VendorOffer, Wholesaler
from handlers.messages import CATALOG, t
from tests.fake_twilio import fake_twilio, thok_settings  # noqa: F401
from tests.test_conversation_flows import SURESH, chat  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
SHRESTHA = "+9779851000001"  # a wholesaler with stock of the demo's rice


def _help_examples(key: str, lang: str) -> list[str]:
    """ "• 2 bora chamal — …", "…; NO — …" and "(english: …)" of a HELP text."""
    text = CATALOG[key][lang]
    found = re.findall(r"(?:^• |; )([^—;\n]+?) — ", text, re.M) + re.findall(r"\(([^():\n]+?): ", text)
    return [example.strip() for example in found]


def _readme_examples() -> list[tuple[str, str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    headline = re.search(r'A retailer writes "([^"]+)"', readme.replace("\n", " "))
    assert headline, "the README's headline example moved"
    demo = readme[readme.index("In the simulator") : readme.index("The demo runs in dev mode")].replace("\n", " ")
    commands = re.findall(r"`([^`]+)`", demo)
    chosen = [c for c in commands if c not in ("OFFER_WINDOW_SECONDS",) and not c.startswith("THOK_")]
    assert "YES" in chosen and "hisab" in chosen, chosen
    role = {c: "wholesaler" if c.split()[0] in ("OFFER", "ACCEPT") else "retailer" for c in chosen}
    return [("retailer", headline.group(1))] + [(role[c], c) for c in dict.fromkeys(chosen)]


def _placeholder() -> str:
    html = (ROOT / "bot/templates/simulator.html").read_text(encoding="utf-8")
    found = re.search(r'id="body"[^>]*placeholder="e\.g\. ([^"]+)"', html)
    assert found, "the simulator's message box lost its example"
    return found.group(1)


EXAMPLES = (
    [pytest.param("retailer", text, id=f"readme:{text}") for _, text in _readme_examples() if _ == "retailer"]
    + [pytest.param("wholesaler", text, id=f"readme:{text}") for r, text in _readme_examples() if r == "wholesaler"]
    + [pytest.param("retailer", _placeholder(), id=f"simulator:{_placeholder()}")]
    + [
        pytest.param(role, text, id=f"help-{role}-{lang}:{text}")
        for role, key in (("retailer", "help"), ("wholesaler", "wholesaler_help"))
        for lang in ("en", "ne")
        for text in _help_examples(key, lang)
    ]
)


def _ref(reply: str) -> str:
    found = re.search(r"TK-[A-Z0-9]{4,6}", reply)
    assert found, reply
    return found.group(0)


def _invited(chat: Any, ref: str) -> list[str]:
    with chat.db.session() as s:
        return list(
            s.scalars(
                select(Wholesaler.whatsapp_number)
                .join(VendorOffer, VendorOffer.wholesaler_id == Wholesaler.id)
                .join(Order, Order.id == VendorOffer.order_id)
                .where(Order.ref == ref)
                .order_by(Wholesaler.id)
            )
        )


def _confirmed_order(chat: Any) -> tuple[str, str]:
    """KC Mart's order, won and confirmed: (ref, the winner's phone)."""
    chat.send(SURESH, "2 bora basmati")
    ref = _ref(chat.send(SURESH, "YES"))
    for phone in _invited(chat, ref):
        chat.send(phone, f"ACCEPT {ref}")  # every answer in: the window closes early
    with chat.db.session() as s:
        order = s.scalars(select(Order).where(Order.ref == ref)).one()
        winner = s.get(Wholesaler, order.final_wholesaler_id).whatsapp_number
    chat.send(winner, f"ACCEPT {ref}")
    return ref, winner


def _prepare(chat: Any, role: str, text: str) -> tuple[str, str]:
    """Bring the demo to where the example makes sense; return (who sends it, the text to send)."""
    word = text.split()[0].upper()
    if role == "retailer":
        if "TK-" in text:
            chat.send(SURESH, "2 bora basmati")
            ref = _ref(chat.send(SURESH, "YES"))
            return SURESH, re.sub(r"TK-(XXXX|…)", ref, text)
        if word in ("YES", "NO", "हो", "होइन"):
            chat.send(SURESH, "2 bora basmati")
        return SURESH, text
    if word in ("DISPATCHED", "DELIVERED", "PAID"):
        ref, winner = _confirmed_order(chat)
        if word == "DELIVERED":
            chat.send(winner, f"DISPATCHED {ref}")
        return winner, text.replace("TK-XXXX", ref).replace("98XXXXXXXX", SURESH.removeprefix("+977"))
    if "TK-" in text:
        chat.send(SURESH, "2 bora basmati")
        ref = _ref(chat.send(SURESH, "YES"))
        return _invited(chat, ref)[0], re.sub(r"TK-(XXXX|…)", ref, text)
    return SHRESTHA, text


def _fallbacks() -> set[str]:
    keys = ("unknown", "wholesaler_help", "retailer_command_for_wholesaler", "nothing_to_confirm", "nothing_to_choose")
    return {t(key, lang) for key in keys for lang in ("en", "ne")}


@pytest.mark.parametrize(("role", "example"), EXAMPLES)
def test_every_example_shown_to_people_works(chat: Any, role: str, example: str) -> None:
    phone, text = _prepare(chat, role, example)
    reply = chat.send(phone, text)
    assert reply, f"{example!r}: no reply"
    with chat.db.session() as s:
        intent = s.scalars(
            select(InboundMessage.intent).where(InboundMessage.body == text).order_by(InboundMessage.id.desc())
        ).first()
    assert intent not in (None, "unknown"), f"{example!r} was not understood: {reply}"
    if example.upper() != "HELP":
        assert reply not in _fallbacks(), f"{example!r} got a fallback: {reply}"
    refusals = ("Sorry", "माफ गर्नुहोस्", "Please include", "कृपया अर्डर नम्बर", "There is no order", "भेटिएन")
    assert not reply.startswith(refusals), f"{example!r} was refused: {reply}"
    if intent == "order":  # summarised, or asked about, and kept: nothing written is lost
        assert re.search(r"Your order|तपाईंको अर्डर|Which one|भन्नाले कुन", reply), reply
        with chat.db.session() as s:
            assert s.scalars(select(OrderDraft)).one().items, reply
    if intent == "confirm":
        with chat.db.session() as s:
            assert s.scalars(select(Order.status)).one() is OrderStatus.PENDING_OFFERS
