# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""Bad input at the WhatsApp edge: senders that are not WhatsApp numbers, long Nepali messages, and
numbers beyond what a column holds. Real PostgreSQL, Redis and worker; Twilio faked at HTTP."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from db.models import (
    InboundMessage,
    InboundStatus,
    OutboundMessage,
    Product,
    Retailer,
    VendorOffer,
    WholesalerProduct,
)
from db.session import Database
from domain.catalog import import_prices, import_products
from domain.events import take_events, take_notices
from domain.money import MAX_AMOUNT, npr
from domain.offers import OrderLine, place_order
from domain.parties import register_retailer, register_wholesaler
from handlers import Sender, dispatch
from handlers.messages import t
from parsing import commands
from tests.fake_twilio import (  # noqa: F401 (fixtures)
    PUBLIC,
    app,
    fake_twilio,
    jobs,
    run_worker,
    signed_headers,
    thok_settings,
    twilio_form,
)
from thok.config import Settings

PATH = "/webhooks/twilio/whatsapp"
RETAILER = "+9779841000001"
WHOLESALER = "+9779851000002"
_sids = iter(range(10_000, 20_000))


def post(client: Any, form: dict[str, str]) -> Any:
    return client.post(PATH, data=form, headers=signed_headers(PATH, form), base_url=PUBLIC)


def sid() -> str:
    return f"SM{next(_sids):032d}"


def inbound_rows(db: Database) -> list[tuple[str, InboundStatus, str | None]]:
    with db.session() as s:
        rows = s.execute(select(InboundMessage.from_number, InboundMessage.status, InboundMessage.error)).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]


@pytest.mark.parametrize(
    "sender",
    [
        "sms:+9779841000001",  # another channel
        "+9779841000001",  # no channel prefix
        "whatsapp:9841000001",  # a local form, no country code
        "whatsapp:+97798410000ab",  # letters
        "whatsapp:+9779841000001\nBcc: x",  # a line break
        "whatsapp:+" + "9" * 39,  # 39 digits
        "whatsapp:+97798410000011",  # one digit too many for Nepal's plan
        "whatsapp: +9779841000001",  # a space
        "whatsapp:",
    ],
)
def test_a_sender_that_is_not_a_whatsapp_number_is_refused_and_nothing_stored_or_sent(
    app, fresh_database, redis, fake_twilio, caplog, sender: str
) -> None:
    caplog.set_level(logging.WARNING)
    form = {**twilio_form(sid()), "From": sender}
    assert post(app.test_client(), form).status_code == 400
    run_worker(redis)
    assert inbound_rows(fresh_database) == []
    assert fake_twilio.posts() == []
    refusals = [r.getMessage() for r in caplog.records if "400" in r.getMessage()]
    assert len(refusals) == 1 and "From" in refusals[0]
    assert "9841000001" not in refusals[0]  # the log does not carry the raw number


def test_the_stored_sender_is_the_normalised_e164_number(app, fresh_database, redis, fake_twilio) -> None:
    # Twilio sends E.164 already; what is stored is phonenumbers' formatting of it, so a lookup by
    # the registered (normalised) number finds the party.
    with fresh_database.unit_of_work() as uow:
        register_retailer(uow.session, name="Sita", phone="984-1000001")
        uow.commit()
    assert post(app.test_client(), twilio_form(sid(), sender=RETAILER, body="namaste")).status_code == 200
    run_worker(redis)
    assert inbound_rows(fresh_database) == [(RETAILER, InboundStatus.PROCESSED, None)]
    [sent] = fake_twilio.posts()
    assert sent.form["To"] == f"whatsapp:{RETAILER}"


def test_a_4096_character_devanagari_message_is_accepted_and_answered(app, fresh_database, redis, fake_twilio) -> None:
    with fresh_database.unit_of_work() as uow:
        register_retailer(uow.session, name="Sita", phone=RETAILER)
        uow.commit()
    body = ("नमस्ते" * 700)[:4096]
    assert len(body) == 4096 and len(urlencode({"Body": body})) > 36_000  # 9 bytes a character, encoded
    assert post(app.test_client(), twilio_form(sid(), body=body)).status_code == 200
    run_worker(redis)
    with fresh_database.session() as s:
        row = s.scalars(select(InboundMessage)).one()
        assert (row.status, len(row.body)) == (InboundStatus.PROCESSED, 4096)
    assert len(fake_twilio.posts()) >= 1


def test_a_body_over_4096_characters_is_refused_whatever_its_bytes(app, fresh_database) -> None:
    client = app.test_client()
    assert post(client, twilio_form(sid(), body="क" * 4097)).status_code == 400
    assert post(client, twilio_form(sid(), body="x" * 4097)).status_code == 400
    assert inbound_rows(fresh_database) == []


# --- numbers beyond a column's range ------------------------------------------------------------


PRODUCTS = (
    "sku,name,name_ne,aliases,unit,category\nRICE-JEERA,Jeera Masino Rice,जीरा मसिनो चामल,jeera masino,bora,rice\n"
)


@pytest.fixture
def market(fresh_database: Database) -> Database:
    with fresh_database.unit_of_work() as uow:
        s = uow.session
        register_retailer(s, name="Sita", phone=RETAILER, district="Kathmandu", credit_limit=Decimal(50_000))
        register_wholesaler(s, name="Hari", phone=WHOLESALER, district="Kathmandu")
        import_products(s, PRODUCTS)
        import_prices(s, WHOLESALER, "sku,price,stock\nRICE-JEERA,4500,100\n")
        uow.commit()
    return fresh_database


def _converse(app: Any, redis: Any, sender: str, body: str) -> None:
    assert post(app.test_client(), twilio_form(sid(), sender=sender, body=body)).status_code == 200
    run_worker(redis)


def _last_message(db: Database) -> tuple[InboundStatus, str | None]:
    with db.session() as s:
        row = s.scalars(select(InboundMessage).order_by(InboundMessage.id.desc())).first()
        assert row is not None
        return row.status, row.error


def test_an_offer_price_beyond_the_column_gets_a_reply_and_the_message_is_processed(
    app, market, redis, fake_twilio, thok_settings
) -> None:
    with market.unit_of_work() as uow:
        s = uow.session
        retailer = s.scalars(select(Retailer)).one()
        rice = s.scalars(select(Product)).one()
        order = place_order(s, retailer, [OrderLine(rice.id, Decimal(2))], thok_settings)
        ref = order.ref
        take_notices(s), take_events(s)
        uow.commit()
    _converse(app, redis, WHOLESALER, f"OFFER {ref} 99999999999999999999 tomorrow")
    assert _last_message(market) == (InboundStatus.PROCESSED, None)
    [reply] = [p for p in fake_twilio.posts() if p.form["To"] == f"whatsapp:{WHOLESALER}"]
    assert f"more than Thok can record (at most NPR {npr(MAX_AMOUNT)})" in reply.form["Body"]
    with market.session() as s:  # the invitation's catalog price stands, untouched
        assert s.scalars(select(VendorOffer.total_price)).one() == Decimal("9000.00")


def test_a_stock_quantity_beyond_the_column_gets_a_reply_and_the_message_is_processed(
    app, market, redis, fake_twilio
) -> None:
    _converse(app, redis, WHOLESALER, "STOCK RICE-JEERA 999999999999999999999")
    assert _last_message(market) == (InboundStatus.PROCESSED, None)
    [reply] = fake_twilio.posts()
    assert "more than Thok can record (at most 99999999999)" in reply.form["Body"]
    with market.session() as s:
        assert s.scalars(select(WholesalerProduct.stock)).one() == Decimal(100)
        assert s.scalar(select(func.count()).select_from(OutboundMessage)) == 1


def test_a_stock_or_offer_finer_than_its_column_is_refused_not_rounded(
    app, market, redis, fake_twilio, thok_settings
) -> None:
    with market.unit_of_work() as uow:
        s = uow.session
        rice = s.scalars(select(Product)).one()
        order = place_order(s, s.scalars(select(Retailer)).one(), [OrderLine(rice.id, Decimal(2))], thok_settings)
        ref = order.ref
        take_notices(s), take_events(s)
        uow.commit()
    _converse(app, redis, WHOLESALER, "STOCK RICE-JEERA 40.12345")
    assert _last_message(market) == (InboundStatus.PROCESSED, None)
    _converse(app, redis, WHOLESALER, f"OFFER {ref} 8500.555 tomorrow")
    assert _last_message(market) == (InboundStatus.PROCESSED, None)
    bodies = [p.form["Body"] for p in fake_twilio.posts() if p.form["To"] == f"whatsapp:{WHOLESALER}"]
    assert "at most 3 decimal places" in bodies[0] and "at most 2 decimal places" in bodies[1]
    with market.session() as s:
        assert s.scalars(select(WholesalerProduct.stock)).one() == Decimal(100)  # not 40.123
        assert s.scalars(select(VendorOffer.total_price)).one() == Decimal("9000.00")  # not 8500.56


def test_a_value_postgresql_refuses_in_any_handler_is_answered_and_rolled_back(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The net under the domain's checks: a handler that writes, then sends PostgreSQL a value its
    column cannot hold (a real DataError, SQLSTATE 22001), is answered from the catalog; its first
    write is rolled back with the savepoint and the job's transaction stays usable."""
    wholesaler = register_wholesaler(session, name="Hari", phone=WHOLESALER)

    def careless(ctx: Any, intent: Any) -> list[Any]:
        ctx.session.execute(text("UPDATE wholesalers SET name = 'changed' WHERE id = :id"), {"id": wholesaler.id})
        ctx.session.execute(
            text("UPDATE wholesalers SET district = :d WHERE id = :id"), {"d": "x" * 500, "id": wholesaler.id}
        )
        return []

    monkeypatch.setitem(dispatch.ROUTES["wholesaler"], commands.Stock, careless)
    sender = Sender(kind="wholesaler", phone=WHOLESALER, id=wholesaler.id, name="Hari")
    [reply] = dispatch.handle_message(session, sender, "STOCK RICE-JEERA 40", settings)
    assert reply.body == t("input_too_large", "en")
    assert session.scalar(text("SELECT name FROM wholesalers WHERE id = :id"), {"id": wholesaler.id}) == "Hari"


def test_a_status_callback_marker_beyond_bigint_is_not_a_500(app, fresh_database) -> None:
    path = "/webhooks/twilio/status?ob=" + "9" * 30
    form = {"MessageSid": "SM" + "e" * 32, "MessageStatus": "delivered"}
    headers = signed_headers(path, form)
    resp = app.test_client().post(path, data=form, headers=headers, base_url=PUBLIC)
    assert resp.status_code in (204, 400)


_FORM_VALUES = st.one_of(
    st.text(max_size=50),
    st.sampled_from(["", "\x00", "whatsapp:+9779841000001", "whatsapp:+" + "9" * 39, "sms:+9779841000001", "-1"]),
    st.sampled_from(["99999999999999999999", "1e309", "NaN", "क" * 4097, "x" * 5000, "whatsapp:+14155238886\r\n"]),
)
_FORM_FIELDS = st.sampled_from(
    ["MessageSid", "From", "To", "Body", "WaId", "ProfileName", "NumMedia", "MediaUrl0", "ButtonPayload", "ButtonText"]
)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(changes=st.dictionaries(_FORM_FIELDS, _FORM_VALUES, max_size=4), sid=st.integers(0, 10**12))
def test_any_signed_form_to_the_webhook_is_answered_without_a_500(app, changes: dict[str, str], sid: int) -> None:
    # Signed like Twilio's own requests, so the values reach the checks behind the signature.
    form = {**twilio_form(f"SM{sid:032d}"), **changes}
    resp = post(app.test_client(), form)
    assert resp.status_code in (200, 400), (form, resp.status_code)
