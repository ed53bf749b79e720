# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""The demo's chat simulator: the whole pipeline (signed webhook, store, queue, worker, outbox)
runs as in production; only the last hop is the SimulatorChannel."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app import create_app
from db.models import InboundMessage, OutboundStatus
from domain.parties import register_retailer, register_wholesaler
from tests.fake_twilio import fake_twilio, run_worker, thok_settings  # noqa: F401 (fixtures)
from thok.runtime import redis_for
from workers import context

RETAILER = "+9779841000003"


@pytest.fixture
def demo(thok_settings, fresh_database, redis) -> Any:
    """Dev mode without Twilio credentials for sending; the auth token still signs and checks."""
    settings = thok_settings.with_overrides(dev_mode=True, twilio_account_sid=None, twilio_whatsapp_from=None)
    with fresh_database.unit_of_work() as uow:
        register_retailer(uow.session, name="Hari", phone=RETAILER, shop_name="Hari Kirana")
        register_wholesaler(uow.session, name="Gita", phone="+9779851000004", business_name="Gita Traders")
        uow.commit()
    context.configure(settings)
    yield create_app(settings, fresh_database, redis_for(settings))
    context.configure(None)


def test_page_lists_seeded_parties(demo) -> None:
    page = demo.test_client().get("/simulator")
    assert page.status_code == 200
    assert b"Hari Kirana" in page.data and b"+9779851000004" in page.data
    assert b"<script nonce=" in page.data


def test_a_message_runs_the_real_pipeline_and_the_reply_shows_up(demo, redis, fresh_database, fake_twilio) -> None:
    client = demo.test_client()
    resp = client.post("/simulator/send", data={"phone": "9841000003", "body": "namaste"})
    assert resp.status_code == 202, resp.json
    with fresh_database.session() as s:
        [stored] = s.query(InboundMessage).all()
        assert (stored.from_number, stored.body) == (RETAILER, "namaste")
    before = client.get("/simulator/messages", query_string={"phone": RETAILER}).json
    assert [m["body"] for m in before["inbound"]] == ["namaste"] and before["outbound"] == []
    run_worker(redis)
    after = client.get(
        "/simulator/messages", query_string={"phone": RETAILER, "after_in": before["inbound"][0]["id"]}
    ).json
    assert after["inbound"] == []
    [reply] = after["outbound"]
    assert reply["shown"] and reply["status"] == OutboundStatus.SENT.value and "Namaste Hari" in reply["body"]
    assert fake_twilio.posts() == []  # no credentials: nothing leaves the machine


def test_simulator_posts_are_signed_and_unsigned_posts_are_not_accepted(demo, fresh_database) -> None:
    client = demo.test_client()
    form = {"MessageSid": "SM" + "0" * 32, "From": f"whatsapp:{RETAILER}", "Body": "forged"}
    assert client.post("/webhooks/twilio/whatsapp", data=form).status_code == 403
    assert client.post("/simulator/send", data={"phone": RETAILER, "body": "real"}).status_code == 202
    with fresh_database.session() as s:
        assert [m.body for m in s.query(InboundMessage)] == ["real"]


def test_simulator_is_absent_in_production(thok_settings, fresh_database, redis) -> None:
    app = create_app(thok_settings, fresh_database, redis_for(thok_settings))
    assert app.test_client().get("/simulator").status_code == 404
    assert app.test_client().post("/simulator/send", data={"phone": RETAILER, "body": "x"}).status_code == 404
