# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""The month's PDF statement on WhatsApp (issue 17): "बिल पठाउनु" sends it as a document at a
signed, expiring link Thok serves, with the summary as the caption; through the real pipeline
(signed webhook, RQ worker, the twilio client) to a fake Twilio on loopback."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pytest
from itsdangerous import BadSignature
from pdfminer.high_level import extract_text
from sqlalchemy import select

from bot.app import create_app
from db.models import Language, OutboundMessage
from domain.calendar import BsMonth
from domain.ledger import post_debit
from handlers.statement_link import read_token, statement_url
from tests import factories
from tests.fake_twilio import PUBLIC, fake_twilio, run_worker, signed_headers, thok_settings, twilio_form  # noqa: F401
from thok.runtime import redis_for
from workers import context

PATH = "/webhooks/twilio/whatsapp"


def _text(pdf: bytes) -> str:
    return re.sub(r"\(cid:\d+\)|\s", "", extract_text(io.BytesIO(pdf)))


def test_bil_pathaunu_sends_the_month_pdf_as_a_document(
    thok_settings: Any, fresh_database: Any, fake_twilio: Any, redis: Any
) -> None:
    context.configure(thok_settings)
    try:
        with fresh_database.unit_of_work() as uow:
            shop = factories.retailer(uow.session, name="Sita", limit=5_00_000)
            shop.shop_name, shop.language = "सीता स्टोर", Language.NE
            w = factories.wholesaler(uow.session, name="Ram Traders")
            post_debit(
                uow.session,
                retailer_id=shop.id,
                amount=Decimal("123456.50"),
                idempotency_key="order:wa:1",
                description="Order TK-WA01",
                wholesaler_id=w.id,
            )
            phone, shop_id = shop.whatsapp_number, shop.id
            uow.commit()
        client = create_app(thok_settings, fresh_database, redis_for(thok_settings), TESTING=True).test_client()
        form = twilio_form("SM" + "1" * 32, sender=phone, body="बिल पठाउनु")
        assert client.post(PATH, data=form, headers=signed_headers(PATH, form), base_url=PUBLIC).status_code == 200
        run_worker(redis)

        [sent] = [r for r in fake_twilio.posts() if r.form.get("To") == f"whatsapp:{phone}"]
        month = BsMonth.current()
        assert sent.form["Body"].startswith(f"{month.label('ne')} को तपाईंको खाता विवरण (PDF)")
        assert "अन्तिम बाँकी रु १,२३,४५६.५०" in sent.form["Body"]
        media = sent.form["MediaUrl"]
        assert media.startswith(f"{PUBLIC}/statement/") and media.endswith(".pdf")
        with fresh_database.session() as s:
            row = s.scalars(select(OutboundMessage).where(OutboundMessage.to_number == phone)).one()
            assert row.media_url == media

        # Twilio fetches the document from Thok.
        path = media.removeprefix(PUBLIC)
        pdf = client.get(path, base_url=PUBLIC)
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        text = _text(pdf.data)
        assert f"खाताविवरण:{month.label('ne').replace(' ', '')}" in text and "सीतास्टोर" in text
        assert "१,२३,४५६.५०" in text

        # The link is the key: another token, a changed one or an old one opens nothing.
        token = path.removeprefix("/statement/").removesuffix(".pdf")
        assert read_token(thok_settings, token) == (shop_id, month, "ne")
        forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        assert client.get(f"/statement/{forged}.pdf", base_url=PUBLIC).status_code == 404
        other_key = thok_settings.with_overrides(secret_key="another-secret-key-of-32-characters")
        foreign = statement_url(other_key, shop_id, month, "ne")
        assert foreign is not None
        assert client.get(foreign.removeprefix(PUBLIC), base_url=PUBLIC).status_code == 404
        with pytest.raises(BadSignature):
            read_token(thok_settings, token, max_age=-1)  # past its hour
    finally:
        context.configure(None)


def test_without_a_public_url_the_statement_comes_as_text(
    thok_settings: Any, fresh_database: Any, fake_twilio: Any, redis: Any
) -> None:
    from handlers import Sender
    from handlers.dispatch import handle_message

    settings = thok_settings.with_overrides(public_base_url=None)
    with fresh_database.unit_of_work() as uow:
        shop = factories.retailer(uow.session, name="Sita")
        [reply] = handle_message(
            uow.session, Sender(kind="retailer", phone=shop.whatsapp_number, id=shop.id), "statement", settings
        )
    assert reply.media_url is None and reply.body.startswith(f"Your khata for {BsMonth.current().label('en')}:")
