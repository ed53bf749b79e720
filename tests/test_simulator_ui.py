# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""The simulator as WhatsApp (issue 15): parties by name and role, taps posted as Twilio posts them,
the reason a send is refused, quiet polling, read ticks through the status webhook, the webfont;
and the dashboard's Conversations page."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import InboundMessage, OutboundMessage, OutboundStatus
from domain import messaging
from tests.browser import support
from tests.fake_twilio import fake_twilio, run_worker, thok_settings  # noqa: F401 (fixtures)
from thok.runtime import redis_for
from workers import context

KC_MART = "+9779841000103"
FONT_DIR = Path(__file__).resolve().parents[1] / "bot" / "static" / "fonts"


@pytest.fixture
def demo(thok_settings: Any, fresh_database: Any, redis: Any) -> Iterator[Any]:
    """The demo: dev mode, the seeded market, no Twilio sending (the simulator is the phone)."""
    settings = thok_settings.with_overrides(dev_mode=True, twilio_account_sid=None, twilio_whatsapp_from=None)
    support.seed(fresh_database)
    context.configure(settings)
    yield support.build_app(settings, fresh_database, redis_for(settings))
    context.configure(None)


def test_the_page_lists_parties_by_name_and_role_and_uses_thoks_own_font(demo) -> None:
    client = demo.test_client()
    html = client.get("/simulator").get_data(as_text=True)
    assert "Retailers (shops)" in html and "Wholesalers" in html
    assert 'data-name="KC Mart" data-kind="retailer"' in html and f'data-phone="{KC_MART}"' in html
    assert 'data-kind="wholesaler"' in html
    assert "/static/fonts/fonts.css" in html and "function choicesFor(m)" in html  # the script, under the nonce
    css = client.get("/static/fonts/fonts.css").get_data(as_text=True)
    assert 'font-family: "Thok Devanagari"' in css and "NotoSansDevanagari-Regular.woff" in css
    font = client.get("/static/fonts/NotoSansDevanagari-Regular.woff")
    assert font.status_code == 200 and font.data[:4] == b"wOFF"
    for path in FONT_DIR.glob("*.woff"):
        assert path.stat().st_size < 1024 * 1024
    assert (FONT_DIR / "OFL.txt").read_text().count("SIL Open Font License") >= 1
    # The dashboard uses it too.
    login = client.get("/dashboard/login").get_data(as_text=True)
    assert "/static/fonts/fonts.css" in login


def test_buttons_are_shown_and_a_tap_is_posted_as_twilio_posts_it(demo, redis, fresh_database) -> None:
    client = demo.test_client()
    assert client.post("/simulator/send", data={"phone": KC_MART, "body": "2 bora chamal"}).status_code == 202
    run_worker(redis)
    data = client.get("/simulator/messages", query_string={"phone": KC_MART}).json
    [asked] = data["outbound"]
    assert [c["id"] for c in asked["choices"]][:2] == ["1", "2"] and len(asked["choices"]) == 4
    rice = next(c for c in asked["choices"] if "Basmati" in c["title"])
    tapped = client.post(
        "/simulator/send", data={"phone": KC_MART, "body": rice["title"], "tap": "list", "payload": rice["id"]}
    )
    assert tapped.status_code == 202
    run_worker(redis)
    with fresh_database.session() as s:
        last = s.scalars(select(InboundMessage).order_by(InboundMessage.id.desc())).first()
        assert (last.body, last.button_payload) == (rice["title"], rice["id"])
    after = client.get("/simulator/messages", query_string={"phone": KC_MART, "after_out": asked["id"]}).json
    [summary] = after["outbound"]
    assert [c["id"] for c in summary["choices"]] == ["YES", "CHANGE", "NO"]
    assert "Basmati" in summary["body"]


def test_a_refused_send_says_why(demo) -> None:
    client = demo.test_client()
    refused = client.post("/simulator/send", data={"phone": KC_MART, "body": "x" * 5000})
    assert refused.status_code == 400 and "4096" in refused.json["error"]
    assert "phone number" in client.post("/simulator/send", data={"phone": "KC Mart", "body": "hi"}).json["error"]


def test_polling_is_not_logged_at_info(demo, caplog) -> None:
    client = demo.test_client()
    caplog.set_level(logging.INFO, logger="thok.web")
    for _ in range(5):
        assert client.get("/simulator/messages", query_string={"phone": KC_MART}).status_code == 200
    client.get("/simulator")
    lines = [r.getMessage() for r in caplog.records if r.name == "thok.web" and r.levelno >= logging.INFO]
    assert lines == ["GET /simulator 200"]


def test_shown_replies_are_read_through_the_status_webhook(demo, redis, fresh_database) -> None:
    client = demo.test_client()
    client.post("/simulator/send", data={"phone": KC_MART, "body": "namaste"})
    run_worker(redis)
    with fresh_database.session() as s:
        [reply] = s.scalars(select(OutboundMessage).where(OutboundMessage.to_number == KC_MART)).all()
        assert reply.status == OutboundStatus.SENT
    assert client.post("/simulator/read", data={"phone": KC_MART}).json == {"read": 1}
    with fresh_database.session() as s:
        [reply] = s.scalars(select(OutboundMessage).where(OutboundMessage.to_number == KC_MART)).all()
        assert reply.status == OutboundStatus.READ


def test_conversations_page_lists_parties_by_last_message_and_shows_a_thread(demo, redis, fresh_database) -> None:
    client = demo.test_client()
    client.post("/simulator/send", data={"phone": KC_MART, "body": "2 bora chamal"})
    client.post("/simulator/send", data={"phone": "+9779841000101", "body": "नमस्ते"})
    run_worker(redis)
    with fresh_database.unit_of_work() as uow:  # one reply failed, as Twilio reports it
        row = uow.session.scalars(select(OutboundMessage).where(OutboundMessage.to_number == KC_MART)).one()
        messaging.fail_outbound(uow.session, row, "63016", "outside the 24-hour window")
        uow.commit()
    admin = demo.test_client()
    page = admin.get("/dashboard/login")
    admin.post(
        "/dashboard/login",
        data={"email": support.ADMIN[0], "password": support.ADMIN[1], "csrf_token": support.csrf_token(page.text)},
    )
    listing = admin.get("/dashboard/conversations").get_data(as_text=True)
    # Newest conversation first: Adhikari Kirana Pasal wrote last.
    assert listing.index("Adhikari Kirana Pasal") < listing.index("KC Mart")
    assert "1 failed" in listing
    thread = admin.get("/dashboard/conversations", query_string={"phone": KC_MART}).get_data(as_text=True)
    assert "2 bora chamal" in thread and "Not delivered: outside the 24-hour window" in thread
    assert "Basmati" in thread  # the list's rows, shown as chips
    assert admin.get("/dashboard/conversations", query_string={"phone": "not a phone"}).status_code == 400
