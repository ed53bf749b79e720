# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""The parser's new intents and refusals in the conversation (issues 13 and 16): price answered
from the retailer's district, reorder of the last delivered order, a refused quantity asked back
with nothing ordered, and a question that names a product not turned into a draft. Through
`handle_message` on the demo market, and once through the signed webhook and a real RQ worker."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.app import create_app
from db.models import Order, OrderDraft, OrderItem, OrderStatus, Product, Retailer, Wholesaler, WholesalerProduct
from handlers import Sender
from handlers.dispatch import handle_message
from handlers.messages import money_for
from tests.fake_twilio import PUBLIC, fake_twilio, run_worker, signed_headers, thok_settings, twilio_form  # noqa: F401
from thok.config import Settings
from thok.runtime import redis_for
from thok.seed import seed_demo
from workers import context

SURESH = "+9779841000103"  # KC Mart, Lalitpur, English
KRISHNA = "+9779841000101"  # Adhikari Kirana Pasal, Kathmandu, Nepali
_sids = itertools.count(1)


@pytest.fixture
def demo(session: Session) -> Session:
    seed_demo(session)
    return session


def say(session: Session, phone: str, text: str, settings: Settings) -> str:
    party = session.scalars(select(Retailer).where(Retailer.whatsapp_number == phone)).one()
    lang = party.language.value if party.language else None
    sender = Sender(kind="retailer", phone=phone, id=party.id, language=lang, name=party.name)
    replies = handle_message(session, sender, text, settings)
    assert replies and all(r.to == phone for r in replies)
    return "\n".join(r.body for r in replies)


def drafts(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(OrderDraft)) or 0)


def best(session: Session, sku: str, district: str | None) -> Decimal:
    query = (
        select(func.min(WholesalerProduct.price))
        .join(Product, Product.id == WholesalerProduct.product_id)
        .join(Wholesaler, Wholesaler.id == WholesalerProduct.wholesaler_id)
        .where(Product.sku == sku, WholesalerProduct.stock > WholesalerProduct.reserved_stock)
    )
    if district is not None:
        query = query.where(Wholesaler.district == district)
    return Decimal(session.scalar(query))


# --- price -------------------------------------------------------------------------------------------
def test_a_price_question_gets_the_best_price_in_the_district(demo: Session, settings: Settings) -> None:
    local = best(demo, "DAL-MASOOR", "Lalitpur")
    reply = say(demo, SURESH, "masoor dal ko rate kati ho?", settings)
    assert f"Masoor Dal: NPR {money_for(local, 'en')} per kg" in reply
    assert "To order" in reply and drafts(demo) == 0


def test_a_price_nobody_in_the_district_has_is_the_best_elsewhere_said_so(demo: Session, settings: Settings) -> None:
    lalitpur = select(Wholesaler.id).where(Wholesaler.district == "Lalitpur").scalar_subquery()
    for row in demo.scalars(
        select(WholesalerProduct)
        .join(Product, Product.id == WholesalerProduct.product_id)
        .where(Product.sku == "DAL-MASOOR", WholesalerProduct.wholesaler_id.in_(lalitpur))
    ):
        row.is_available = False
    demo.flush()
    elsewhere = best(demo, "DAL-MASOOR", None)
    reply = say(demo, SURESH, "how much is masoor dal?", settings)
    assert f"NPR {money_for(elsewhere, 'en')} per kg (no wholesaler in your district" in reply


def test_a_price_question_in_nepali_and_one_that_names_nothing(demo: Session, settings: Settings) -> None:
    assert "प्रति केजी रु" in say(demo, KRISHNA, "मसुरो दालको भाउ कति छ?", settings)
    assert "Which product" in say(demo, SURESH, "rate kati ho?", settings)


# --- reorder -----------------------------------------------------------------------------------------
def test_reorder_drafts_the_last_delivered_order(demo: Session, settings: Settings) -> None:
    assert "no delivered order" in say(demo, SURESH, "same as last time please", settings)
    suresh = demo.scalars(select(Retailer).where(Retailer.whatsapp_number == SURESH)).one()
    winner = demo.scalars(select(Wholesaler).where(Wholesaler.district == "Lalitpur")).first()
    assert winner is not None
    dal = demo.scalars(select(Product).where(Product.sku == "DAL-MASOOR")).one()
    now = datetime.now(UTC)
    order = Order(
        ref="TK-RE9A", retailer_id=suresh.id, final_wholesaler_id=winner.id, status=OrderStatus.DELIVERED,
        delivered_at=now, confirmed_at=now, dispatched_at=now,
    )  # fmt: skip
    demo.add(order)
    demo.flush()
    demo.add(OrderItem(order_id=order.id, product_id=dal.id, quantity=Decimal(7), unit=dal.unit, raw_text="masoor"))
    demo.flush()
    reply = say(demo, SURESH, "aghi ko order feri pathaunu", settings)
    assert "TK-RE9A" in reply and "7 kg Masoor Dal" in reply and "Reply YES" in reply
    draft = demo.scalars(select(OrderDraft)).one()
    lines = [e for e in draft.items if e.get("type", "line") == "line"]
    assert [(e["sku"], Decimal(e["quantity"])) for e in lines] == [("DAL-MASOOR", Decimal(7))]


# --- quantities that are refused, questions that are not orders -----------------------------------
@pytest.mark.parametrize(
    ("text", "quoted", "why"),
    [
        ("-5 kg masoor dal", '"-5 kg" for Masoor Dal', "cannot be negative"),
        ("masoor dal 1e308 kg", '"1e308 kg" for Masoor Dal', "not a plain number"),
        ("masoor dal 99999999999999999 kg", '"99999999999999999 kg"', "more than one order can hold"),
        ("3000 bora jeera masino", '"3000 bora"', "more than one order can hold"),
        ("0 kg chini", '"0 kg"', "it is zero"),
    ],
)
def test_a_bad_quantity_is_asked_back_and_nothing_is_drafted(
    demo: Session, settings: Settings, text: str, quoted: str, why: str
) -> None:
    reply = say(demo, SURESH, text, settings)
    assert quoted in reply and why in reply and "Nothing was ordered" in reply
    assert drafts(demo) == 0


def test_questions_and_complaints_naming_products_make_no_draft(demo: Session, settings: Settings) -> None:
    for text in (
        "hijo ko 2 tray anda futeko thiyo",
        "jeera masino ramro chha ki nai?",
        "pahile 5 bora basmati bechthe",
    ):
        reply = say(demo, SURESH, text, settings)
        assert "Your order" not in reply, text
    assert drafts(demo) == 0


def test_a_bad_quantity_over_the_webhook_and_worker(
    thok_settings: Any, fresh_database: Any, fake_twilio: Any, redis: Any
) -> None:
    context.configure(thok_settings)
    try:
        with fresh_database.unit_of_work() as uow:
            seed_demo(uow.session)
            uow.commit()
        client = create_app(thok_settings, fresh_database, redis_for(thok_settings), TESTING=True).test_client()
        path = "/webhooks/twilio/whatsapp"

        def send(body: str) -> list[str]:
            before = len(fake_twilio.posts())
            form = twilio_form(f"SM{next(_sids):032d}", sender=SURESH, body=body)
            assert client.post(path, data=form, headers=signed_headers(path, form), base_url=PUBLIC).status_code == 200
            run_worker(redis)
            return [
                r.form.get("Body", "") for r in fake_twilio.posts()[before:] if r.form.get("To") == f"whatsapp:{SURESH}"
            ]

        refused = send("-5 kg masoor dal")
        assert len(refused) == 1 and '"-5 kg"' in refused[0] and "cannot be negative" in refused[0]
        ok = send("5 kg masoor dal")
        assert len(ok) == 1 and "5 kg Masoor Dal" in ok[0]
        with fresh_database.session() as s:
            draft = s.scalars(select(OrderDraft)).one()
            lines = [e for e in draft.items if e.get("type", "line") == "line"]
            assert [Decimal(e["quantity"]) for e in lines] == [Decimal(5)]  # never -5, never a silent 5 from "-5"
    finally:
        context.configure(None)
