# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""The demo's chat simulator: the whole pipeline (signed webhook, store, queue, worker, outbox)
runs as in production, through the webhook of the provider WHATSAPP_PROVIDER names (each test runs
with Twilio and with Meta's Cloud API); only the last hop is the SimulatorChannel."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from db.models import InboundMessage, Order, OrderStatus, OutboundMessage, OutboundStatus
from domain.parties import register_retailer, register_wholesaler
from tests.fake_twilio import fake_twilio, run_worker, thok_settings  # noqa: F401 (fixtures)
from thok.runtime import redis_for
from workers import context

RETAILER = "+9779841000003"


META_SECRET = "simulator-meta-app-secret"


@pytest.fixture(params=["twilio", "meta"])
def demo(request, thok_settings, fresh_database, redis) -> Any:
    """Dev mode without credentials for sending; Twilio's auth token, or Meta's app secret, still
    signs and checks the webhook."""
    settings = thok_settings.with_overrides(dev_mode=True, twilio_account_sid=None, twilio_whatsapp_from=None)
    if request.param == "meta":
        settings = settings.with_overrides(whatsapp_provider="meta", meta_app_secret=META_SECRET)
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
        # Through the configured provider's own webhook: its message ids tell them apart.
        assert stored.message_sid.startswith("wamid." if demo_provider(demo) == "meta" else "SM")
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
    if demo_provider(demo) == "meta":
        message = {"id": "wamid.X", "from": RETAILER[1:], "type": "text", "text": {"body": "forged"}}
        forged = {"entry": [{"changes": [{"field": "messages", "value": {"messages": [message]}}]}]}
        assert client.post("/webhooks/meta/whatsapp", json=forged).status_code == 403
    else:
        form = {"MessageSid": "SM" + "0" * 32, "From": f"whatsapp:{RETAILER}", "Body": "forged"}
        assert client.post("/webhooks/twilio/whatsapp", data=form).status_code == 403
    assert client.post("/simulator/send", data={"phone": RETAILER, "body": "real"}).status_code == 202
    with fresh_database.session() as s:
        assert [m.body for m in s.query(InboundMessage)] == ["real"]


def test_simulator_is_absent_in_production(thok_settings, fresh_database, redis) -> None:
    app = create_app(thok_settings, fresh_database, redis_for(thok_settings))
    assert app.test_client().get("/simulator").status_code == 404
    assert app.test_client().post("/simulator/send", data={"phone": RETAILER, "body": "x"}).status_code == 404


def demo_provider(app: Any) -> str:
    from thok.web import services

    with app.app_context():
        return services().settings.whatsapp_provider


def test_a_whole_order_by_typing_and_tapping_on_either_provider(demo, redis, fresh_database) -> None:
    """Order, the summary's buttons, YES tapped, the placed order; then the page's read ticks."""
    from thok.seed import seed_demo

    with fresh_database.unit_of_work() as uow:
        seed_demo(uow.session)
        uow.commit()
    with fresh_database.session() as s:
        last_order = s.scalar(select(func.coalesce(func.max(Order.id), 0)))
    client = demo.test_client()
    phone = "+9779841000103"  # the seed's KC Mart

    def say(body: str, **tap: str) -> list[dict[str, Any]]:
        seen = client.get("/simulator/messages", query_string={"phone": phone}).json
        after_out = max([m["id"] for m in seen["outbound"]], default=0)
        assert client.post("/simulator/send", data={"phone": phone, "body": body, **tap}).status_code == 202
        run_worker(redis)
        return client.get("/simulator/messages", query_string={"phone": phone, "after_out": after_out}).json["outbound"]

    [summary] = say("2 bora jeera masino, 5 kg masoor dal")
    assert "Your order:" in summary["body"]
    yes = next(c for c in summary["choices"] if c["id"] == "YES")
    placed = say(yes["title"], tap="button", payload=yes["id"])
    with fresh_database.session() as s:
        order = s.scalars(select(Order).where(Order.id > last_order)).one()
        assert order.status in (OrderStatus.PENDING_OFFERS, OrderStatus.WHOLESALER_SELECTED)
        assert any(f"Order {order.ref} is placed" in m["body"] for m in placed)
        inbound = s.scalars(select(InboundMessage).where(InboundMessage.from_number == phone)).all()
        assert [m.button_payload for m in inbound][-2:] == [None, "YES"]  # the tap arrived as a command
    assert client.post("/simulator/read", data={"phone": phone}).json["read"] >= 2
    with fresh_database.session() as s:
        mine = s.scalars(select(OutboundMessage).where(OutboundMessage.to_number == phone)).all()
        assert {m.status for m in mine if m.provider_sid and m.provider_sid.startswith("SIM")} == {OutboundStatus.READ}
