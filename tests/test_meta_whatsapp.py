# ruff: noqa: F811  (pytest fixtures imported from tests.fake_* are "redefined" as arguments)
"""Meta's Cloud API as the second WhatsApp provider (issue 18): settings, the signed webhook
(handshake, messages, statuses), the Graph API sender against a fake Graph API on loopback, and a
whole trade run against both providers. Real PostgreSQL and Redis throughout."""

from __future__ import annotations

import itertools
import json
import time
from collections import namedtuple
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot import meta_webhook
from bot.app import create_app
from channels import channel_for
from channels.meta import MetaChannel, message_key
from channels.twilio import TwilioChannel
from db.models import (
    AdminAuditLog,
    EntryType,
    InboundMessage,
    InboundStatus,
    LedgerEntry,
    Order,
    OrderStatus,
    OutboundMessage,
    OutboundStatus,
    PartyIdentity,
    Retailer,
    Wholesaler,
)
from db.session import Database
from domain import messaging
from tests.fake_meta import (  # noqa: F401 (fixtures)
    ACCESS_TOKEN,
    APP_SECRET,
    PATH,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    VERSION,
    FakeGraph,
    button_reply,
    fake_graph,
    meta_overrides,
    post_signed,
    signed,
    text_message,
    webhook_payload,
)
from tests.fake_twilio import PUBLIC, fake_twilio, run_worker, signed_headers, thok_settings, twilio_form  # noqa: F401
from thok.config import ConfigError, Settings, load_settings
from thok.runtime import redis_for
from thok.seed import seed_demo
from workers import context
from workers.outbound import enqueue_send, send_outbound

RETAILER = "+9779841000001"
TO = "+9779841000002"
_ids = itertools.count(1)
Choice = namedtuple("Choice", "id title")


def wamid() -> str:
    return f"wamid.HBgNOTc3OTg0MTAwMDAwMRUCABIYFDNBRkFLRT{next(_ids):012d}AA=="


@pytest.fixture
def meta_settings(thok_settings: Any, fake_graph: FakeGraph) -> Settings:
    return thok_settings.with_overrides(**meta_overrides(fake_graph))


@pytest.fixture
def meta_jobs(meta_settings: Settings, redis: Any) -> Any:
    context.configure(meta_settings)
    yield context.get_services()
    context.configure(None)


@pytest.fixture
def meta_app(meta_settings: Settings, fresh_database: Database, meta_jobs: Any) -> Any:
    return create_app(meta_settings, fresh_database, redis_for(meta_settings), TESTING=True)


def inbound_rows(db: Database) -> list[InboundMessage]:
    with db.session() as s:
        rows = list(s.scalars(select(InboundMessage).order_by(InboundMessage.id)))
        s.expunge_all()
        return rows


def outbox(db: Database, body: str, to: str = TO, key: str = "t:1", window: bool = True, **kw: Any) -> int:
    with db.unit_of_work() as uow:
        if window:  # the recipient wrote to us just now: the 24-hour window is open
            messaging.store_inbound(
                uow.session, messaging.IncomingMessage(message_sid=f"win{to[1:]}", from_number=to, body="hi")
            )
        [oid] = messaging.queue_message(uow.session, to=to, body=body, idempotency_key=key, **kw)
        uow.commit()
    return oid


def row(db: Database, outbound_id: int) -> OutboundMessage:
    with db.session() as s:
        found = s.get(OutboundMessage, outbound_id)
        assert found is not None
        s.expunge(found)
        return found


# --- settings -------------------------------------------------------------------------------------

BASE_ENV = {"DATABASE_URL": "postgresql://x@h/db", "REDIS_URL": "redis://h:6379/0", "SECRET_KEY": "k" * 40}
META_ENV = {
    "WHATSAPP_PROVIDER": "meta",
    "META_APP_SECRET": "s",
    "META_VERIFY_TOKEN": "v",
    "META_ACCESS_TOKEN": "a",
    "META_PHONE_NUMBER_ID": "1",
}


def test_provider_setting_defaults_to_twilio_and_meta_needs_its_own_settings() -> None:
    twilio = load_settings(BASE_ENV)
    assert twilio.whatsapp_provider == "twilio"
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        twilio.require_production()
    meta = load_settings({**BASE_ENV, **META_ENV, "META_TEMPLATE_OFFER_REQUEST": "offer_request:ne"})
    meta.require_production()  # Twilio's settings are not needed with Meta
    assert meta.meta_graph_url == "https://graph.facebook.com/v21.0"
    assert meta.template_for("offer_request") == "offer_request:ne"
    for name in ("META_ACCESS_TOKEN", "META_PHONE_NUMBER_ID", "META_APP_SECRET", "META_VERIFY_TOKEN"):
        broken = load_settings({**BASE_ENV, **META_ENV, name: " "})
        with pytest.raises(ConfigError, match=name):
            broken.require_production()
    # The worker sends but does not check signatures: the Graph API's settings are enough for it.
    worker = load_settings({**BASE_ENV, **META_ENV, "META_APP_SECRET": ""})
    worker.require_production(("DATABASE_URL", "REDIS_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"))
    with pytest.raises(ConfigError, match="META_GRAPH_URL"):
        load_settings({**BASE_ENV, **META_ENV, "META_GRAPH_URL": ""}).require_production()
    with pytest.raises(ConfigError, match="WHATSAPP_PROVIDER"):
        load_settings({"WHATSAPP_PROVIDER": "viber"})


def test_the_channel_follows_the_provider_setting(meta_settings: Settings, thok_settings: Settings) -> None:
    assert isinstance(channel_for(meta_settings), MetaChannel)
    assert isinstance(channel_for(thok_settings), TwilioChannel)
    unconfigured = meta_settings.with_overrides(meta_access_token=None, dev_mode=False)
    with pytest.raises(ConfigError, match="META_ACCESS_TOKEN"):
        channel_for(unconfigured)  # never the simulator in production


# --- inbound --------------------------------------------------------------------------------------


def test_handshake_echoes_the_challenge_only_for_our_token(meta_app) -> None:
    client = meta_app.test_client()
    good = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    answer = client.get(PATH, query_string=good)
    assert (answer.status_code, answer.get_data(as_text=True)) == (200, "1158201444")
    assert client.get(PATH, query_string={**good, "hub.verify_token": "guess"}).status_code == 403
    assert client.get(PATH, query_string={**good, "hub.mode": "unsubscribe"}).status_code == 403
    assert client.get(PATH).status_code == 403


def test_forged_unsigned_or_tampered_posts_are_refused_and_store_nothing(meta_app, fresh_database) -> None:
    client = meta_app.test_client()
    raw = json.dumps(webhook_payload([text_message(wamid(), RETAILER, "2 bora chamal")])).encode()
    assert client.post(PATH, data=raw, headers={"Content-Type": "application/json"}).status_code == 403
    assert client.post(PATH, data=raw, headers=signed(raw, "not-the-secret")).status_code == 403
    tampered = raw.replace(b"2 bora", b"200 bora")
    assert client.post(PATH, data=tampered, headers=signed(raw)).status_code == 403
    # The signature is over the raw bytes: the same JSON re-serialised (spaces) is not what was signed.
    respaced = json.dumps(json.loads(raw), indent=1).encode()
    assert client.post(PATH, data=respaced, headers=signed(raw)).status_code == 403
    assert inbound_rows(fresh_database) == []
    # Signed but not JSON, or not Meta's shape: 400, nothing stored.
    for bad in (b"{not json", b"[1, 2]", b'{"entry": 5}', "\u00e9".encode("latin-1")):
        assert client.post(PATH, data=bad, headers=signed(bad)).status_code == 400
    assert inbound_rows(fresh_database) == []


def test_a_batch_of_messages_is_stored_once_each_with_buttons_as_commands(meta_app, fresh_database, redis) -> None:
    client = meta_app.test_client()
    ids = [wamid() for _ in range(5)]
    first = webhook_payload(
        [
            text_message(ids[0], RETAILER, "२ बोरा चामल"),
            button_reply(ids[1], RETAILER, "CONFIRM", "Yes, place it"),
        ]
    )
    template_button = {
        "from": TO[1:],
        "id": ids[2],
        "type": "button",
        "button": {"payload": "ACCEPT TK-1001", "text": "Accept"},
    }
    reaction = {"from": TO[1:], "id": ids[4], "type": "reaction", "reaction": {"message_id": ids[0], "emoji": "👍"}}
    second = webhook_payload(
        [template_button, button_reply(ids[3], TO, "PICK 2", "Basmati 25 kg", list_row=True), reaction]
    )
    payload = {"object": "whatsapp_business_account", "entry": first["entry"] + second["entry"]}
    assert post_signed(client, payload).status_code == 200
    rows = inbound_rows(fresh_database)
    assert [r.message_sid for r in rows] == ids
    assert [(r.from_number, r.body, r.button_payload) for r in rows] == [
        (RETAILER, "२ बोरा चामल", None),
        (RETAILER, "Yes, place it", "CONFIRM"),
        (TO, "Accept", "ACCEPT TK-1001"),
        (TO, "Basmati 25 kg", "PICK 2"),
        (TO, "", None),
    ]
    assert rows[0].wa_id == RETAILER[1:] and rows[0].profile_name == "Ram"
    # Four jobs on the queue; the reaction is kept, done, and answered by no one.
    assert [r.status for r in rows] == [InboundStatus.QUEUED] * 4 + [InboundStatus.PROCESSED]
    assert rows[4].intent == "acknowledged"
    from workers.queueing import INBOUND_QUEUE

    assert redis.llen(f"rq:queue:{INBOUND_QUEUE}") == 4
    # Meta redelivers the whole batch: nothing new, nothing queued twice.
    assert post_signed(client, payload).status_code == 200
    assert len(inbound_rows(fresh_database)) == 5
    assert redis.llen(f"rq:queue:{INBOUND_QUEUE}") == 4


def test_a_message_that_cannot_be_placed_does_not_lose_the_rest_of_the_batch(meta_app, fresh_database) -> None:
    good = text_message(wamid(), RETAILER, "hisab")
    no_number = {"id": wamid(), "type": "text", "text": {"body": "from a username"}}
    bad_number = text_message(wamid(), "+12", "hi")
    assert post_signed(meta_app.test_client(), webhook_payload([no_number, bad_number, good])).status_code == 200
    assert [r.message_sid for r in inbound_rows(fresh_database)] == [good["id"]]


def test_a_long_wamid_is_stored_by_a_stable_digest(meta_app, fresh_database) -> None:
    long_id = "wamid." + "A" * 90
    payload = webhook_payload([text_message(long_id, RETAILER, "hi")])
    assert post_signed(meta_app.test_client(), payload).status_code == 200
    assert post_signed(meta_app.test_client(), payload).status_code == 200
    [stored] = inbound_rows(fresh_database)
    assert stored.message_sid == message_key(long_id) and len(stored.message_sid) <= 64


def test_media_is_fetched_at_once_stored_and_answered_as_for_twilio_media(
    meta_app, fresh_database, redis, fake_graph
) -> None:
    """Meta's media ids expire: the file is fetched by id (GET /{media-id} -> its URL -> GET with the
    token) as soon as the message is stored, and kept; the reply is the one a Twilio photo gets."""
    from domain.media import media_of
    from handlers.messages import t

    picture = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    fake_graph.media["1234567890"] = ("image/png", picture)
    photo = {"from": RETAILER[1:], "id": wamid(), "type": "image", "image": {"id": "1234567890", "mime_type": "x"}}
    with fresh_database.unit_of_work() as uow:
        from domain.parties import register_retailer

        register_retailer(uow.session, name="Sita", phone=RETAILER, shop_name="Sita Kirana")
        uow.commit()
    assert post_signed(meta_app.test_client(), webhook_payload([photo])).status_code == 200
    meta_webhook.drain()
    [stored] = inbound_rows(fresh_database)
    assert (stored.num_media, stored.media_urls) == (1, ["meta-media:1234567890"])
    with fresh_database.session() as s:
        [kept] = media_of(s, stored.id)
        assert (kept.media_id, kept.content_type, kept.data, kept.size_bytes) == (
            "1234567890",
            "image/png",
            picture,
            len(picture),
        )
    assert fake_graph.media_gets == [f"/{VERSION}/1234567890", "/download/1234567890"]
    run_worker(redis)
    [sent] = fake_graph.to(RETAILER)
    assert sent["type"] == "text" and sent["text"]["body"] == t("media_unsupported", "en")


def test_media_that_cannot_be_fetched_still_gets_the_reply(meta_app, fresh_database, redis, fake_graph) -> None:
    from domain.media import media_of
    from handlers.messages import t

    voice = {"from": RETAILER[1:], "id": wamid(), "type": "audio", "audio": {"id": "999", "mime_type": "audio/ogg"}}
    assert post_signed(meta_app.test_client(), webhook_payload([voice])).status_code == 200
    meta_webhook.drain()
    [stored] = inbound_rows(fresh_database)
    with fresh_database.session() as s:
        assert media_of(s, stored.id) == []  # the fake does not know the id: nothing kept, nothing raised
    run_worker(redis)
    assert [m["text"]["body"] for m in fake_graph.to(RETAILER)] == [t("media_unsupported", "en")]


def test_a_picked_up_message_is_marked_read_with_the_typing_indicator(meta_app, fresh_database, fake_graph) -> None:
    first, second = wamid(), wamid()
    payload = webhook_payload([text_message(first, RETAILER, "hi"), text_message(second, RETAILER, "namaste")])
    assert post_signed(meta_app.test_client(), payload).status_code == 200
    assert post_signed(meta_app.test_client(), payload).status_code == 200  # Meta's redelivery: no second receipt
    meta_webhook.drain()
    assert sorted(r["message_id"] for r in fake_graph.receipts) == sorted([first, second])
    for receipt in fake_graph.receipts:
        assert receipt["messaging_product"] == "whatsapp" and receipt["status"] == "read"
        assert receipt["typing_indicator"] == {"type": "text"}
        assert receipt["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert fake_graph.accepted == []  # a receipt is not a message


def test_a_read_receipt_that_fails_does_not_hold_the_reply(meta_app, fresh_database, fake_graph, redis) -> None:
    fake_graph.stop()  # the Graph API unreachable: the receipt fails quietly, the message is stored
    assert (
        post_signed(meta_app.test_client(), webhook_payload([text_message(wamid(), RETAILER, "hi")])).status_code == 200
    )
    meta_webhook.drain()
    assert len(inbound_rows(fresh_database)) == 1


def test_statuses_move_the_outbound_row_forward_only(meta_app, fresh_database, meta_jobs, fake_graph) -> None:
    oid = outbox(fresh_database, "Your order is confirmed")
    assert send_outbound(oid).startswith("sent:")
    wid = fake_graph.accepted[0]["id"]
    client = meta_app.test_client()

    def report(status: str, **extra: Any) -> None:
        item = {"id": wid, "status": status, "timestamp": "1764522001", "recipient_id": TO[1:], **extra}
        assert post_signed(client, webhook_payload(statuses=[item])).status_code == 200

    report("delivered")
    assert row(fresh_database, oid).status is OutboundStatus.DELIVERED
    report("sent")  # late: never backwards
    assert row(fresh_database, oid).status is OutboundStatus.DELIVERED
    report("read")
    assert row(fresh_database, oid).status is OutboundStatus.READ


def test_failed_status_carries_the_code_and_the_marker_finds_an_unrecorded_send(
    meta_app, fresh_database, meta_jobs
) -> None:
    # The sender died after Meta took the message: the row is SENDING with no wamid. The status
    # webhook carries our biz_opaque_callback_data and attaches it.
    oid = outbox(fresh_database, "lost answer")
    with fresh_database.unit_of_work() as uow:
        claimed = messaging.claim_outbound(uow.session, oid)
        assert claimed is not None
        messaging.mark_sending(uow.session, claimed, messaging.Delivery(body="lost answer"))
        uow.commit()
    failed = {
        "id": "wamid.LOST",
        "status": "failed",
        "recipient_id": TO[1:],
        "biz_opaque_callback_data": f"ob={oid}",
        "errors": [{"code": 131026, "title": "Message undeliverable"}],
    }
    assert post_signed(meta_app.test_client(), webhook_payload(statuses=[failed])).status_code == 200
    found = row(fresh_database, oid)
    assert (found.status, found.provider_sid, found.error_code) == (OutboundStatus.FAILED, "wamid.LOST", "131026")
    assert found.error_message == "Message undeliverable"


def test_postgres_down_is_503_so_meta_retries(meta_settings, redis) -> None:
    down = meta_settings.with_overrides(database_url="postgresql://postgres@127.0.0.1:1/none")
    from thok.runtime import database_for

    app = create_app(down, database_for(down), redis_for(down), TESTING=True)
    answer = post_signed(app.test_client(), webhook_payload([text_message(wamid(), RETAILER, "hi")]))
    assert answer.status_code == 503


def test_redis_down_still_stores_the_message_pending(meta_settings, fresh_database) -> None:
    down = meta_settings.with_overrides(redis_url="redis://127.0.0.1:1/0")
    app = create_app(down, fresh_database, redis_for(down), TESTING=True)
    assert post_signed(app.test_client(), webhook_payload([text_message(wamid(), RETAILER, "hi")])).status_code == 200
    [stored] = inbound_rows(fresh_database)
    assert stored.status is InboundStatus.PENDING  # the sweep enqueues it once Redis is back


# --- outbound -------------------------------------------------------------------------------------


def test_text_goes_to_the_graph_api_with_the_token_and_our_marker(fresh_database, meta_jobs, fake_graph) -> None:
    oid = outbox(fresh_database, "Your order is confirmed")
    assert send_outbound(oid).startswith("sent:")
    [req] = fake_graph.requests
    assert req.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert req.authorization == f"Bearer {ACCESS_TOKEN}"
    assert req.body["to"] == TO[1:] and req.body["messaging_product"] == "whatsapp"
    assert req.body["type"] == "text" and req.body["text"]["body"] == "Your order is confirmed"
    assert req.body["biz_opaque_callback_data"] == f"ob={oid}"
    sent = row(fresh_database, oid)
    assert (sent.status, sent.provider_sid) == (OutboundStatus.QUEUED, fake_graph.accepted[0]["id"])
    assert send_outbound(oid).startswith("skipped")
    assert len(fake_graph.requests) == 1


def test_choices_go_as_buttons_or_a_list_and_documents_as_documents(fresh_database, meta_jobs, fake_graph) -> None:
    three = [Choice("YES", "Yes"), Choice("EDIT", "Change"), Choice("NO", "Cancel")]
    send_outbound(outbox(fresh_database, "Place it?", key="b", choices=three))
    rows = [Choice(f"PICK {i}", f"Rice {i} kg") for i in range(1, 6)]
    send_outbound(outbox(fresh_database, "Which rice?", key="l", choices=rows))
    send_outbound(outbox(fresh_database, "Your statement", key="d", media_url="https://thok.test/statement/x.pdf"))
    buttons, listed, document = (r.body for r in fake_graph.requests)
    assert buttons["type"] == "interactive" and buttons["interactive"]["type"] == "button"
    assert [b["reply"] for b in buttons["interactive"]["action"]["buttons"]] == [
        {"id": "YES", "title": "Yes"},
        {"id": "EDIT", "title": "Change"},
        {"id": "NO", "title": "Cancel"},
    ]
    assert listed["interactive"]["type"] == "list" and listed["interactive"]["body"]["text"] == "Which rice?"
    [section] = listed["interactive"]["action"]["sections"]
    assert [r["id"] for r in section["rows"]] == [f"PICK {i}" for i in range(1, 6)]
    assert document["type"] == "document"
    assert document["document"] == {
        "link": "https://thok.test/statement/x.pdf",
        "caption": "Your statement",
        "filename": "statement.pdf",
    }


def test_outside_the_window_a_template_or_a_clear_failure(fresh_database, meta_jobs, fake_graph) -> None:
    oid = outbox(fresh_database, "New order", key="w1", window=False, kind="offer_request")
    assert send_outbound(oid) == "failed: outside the 24-hour window"  # no META_TEMPLATE_OFFER_REQUEST
    assert fake_graph.requests == []
    reason = row(fresh_database, oid).error_message or ""
    assert "META_TEMPLATE_OFFER_REQUEST" in reason and "TWILIO" not in reason  # the setting that would help
    context.configure(meta_jobs.settings.with_overrides(meta_templates=(("offer_request", "thok_offer:ne"),)))
    oid = outbox(fresh_database, "New order", key="w2", window=False, kind="offer_request",
                 content_variables={"1": "TK-1001", "2": "2 bora chamal"})  # fmt: skip
    assert send_outbound(oid).startswith("sent:")
    [req] = fake_graph.requests
    assert req.body["type"] == "template"
    assert req.body["template"] == {
        "name": "thok_offer",
        "language": {"code": "ne"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "TK-1001"}, {"type": "text", "text": "2 bora chamal"}],
            }
        ],  # noqa: E501
    }


def test_meta_error_codes(fresh_database, meta_jobs, fake_graph, redis) -> None:
    window_closed = outbox(fresh_database, "late", key="e1")
    fake_graph.script[:] = ["131047"]
    assert send_outbound(window_closed).startswith("failed")
    assert (row(fresh_database, window_closed).status, row(fresh_database, window_closed).error_code) == (
        OutboundStatus.FAILED,
        "131047",
    )
    gone = outbox(fresh_database, "nobody", key="e2")
    fake_graph.script[:] = ["131026"]
    assert send_outbound(gone).startswith("failed")
    assert row(fresh_database, gone).error_code == "131026"
    # Rate limits and a 5xx the Graph API answered: not accepted, retried with backoff, then sent once.
    retried = outbox(fresh_database, "again", key="e3")
    fake_graph.script[:] = ["130429", "131056", "500"]
    enqueue_send(redis, meta_jobs.settings, retried)
    run_worker(redis)
    sent = row(fresh_database, retried)
    assert (sent.status, sent.attempts) == (OutboundStatus.QUEUED, 4)
    assert [m["text"]["body"] for m in fake_graph.to(TO)] == ["again"]


def test_a_timeout_is_never_sent_twice(fresh_database, meta_jobs, fake_graph, redis) -> None:
    # Meta took it, the answer never came; the Graph API cannot list sent messages, so the retry
    # fails the row with the reason instead of sending a second copy.
    oid = outbox(fresh_database, "only once", key="s1")
    fake_graph.script[:] = ["slow"]
    enqueue_send(redis, meta_jobs.settings, oid)
    run_worker(redis)
    assert [m["text"]["body"] for m in fake_graph.to(TO)] == ["only once"]
    failed = row(fresh_database, oid)
    assert failed.status is OutboundStatus.FAILED and "not resent" in (failed.error_message or "")


# --- the whole trade, on both providers -----------------------------------------------------------

SURESH = "+9779841000103"  # KC Mart, English (the seed)


@pytest.mark.parametrize("provider", ["twilio", "meta"])
def test_order_offer_decision_and_khata_on_either_provider(
    provider: str, thok_settings: Any, fresh_database: Any, fake_twilio: Any, fake_graph: FakeGraph, redis: Any
) -> None:
    settings = thok_settings.with_overrides(
        offer_window_seconds=0,
        twilio_templates=(("offer_request", "HXinvite"), ("order_update", "HXupdate"), ("payment_update", "HXpay")),
        meta_templates=(("offer_request", "thok_invite"), ("order_update", "thok_update"), ("payment_update", "x")),
    )
    if provider == "meta":
        settings = settings.with_overrides(**meta_overrides(fake_graph))
    for sid in ("HXinvite", "HXupdate", "HXpay"):
        fake_twilio.contents[sid] = {"sid": sid, "types": {"twilio/text": {"body": "{{1}}"}}}
    context.configure(settings)
    try:
        with fresh_database.unit_of_work() as uow:
            seed_demo(uow.session)
            uow.commit()
        with fresh_database.session() as s:  # the seed's own history (weeks of trade) stays out of it
            seeded = {
                m: s.scalar(select(func.coalesce(func.max(m.id), 0))) for m in (Order, OutboundMessage, InboundMessage)
            }
        client = create_app(settings, fresh_database, redis_for(settings), TESTING=True).test_client()

        def send(phone: str, body: str) -> list[str]:
            """Post as the provider would, run the worker, return the texts sent back to `phone`."""
            if provider == "meta":
                before = len(fake_graph.to(phone))
                assert post_signed(client, webhook_payload([text_message(wamid(), phone, body)])).status_code == 200
                run_worker(redis)
                return [_shown(m) for m in fake_graph.to(phone)[before:]]
            before = len(fake_twilio.posts())
            form = twilio_form(f"SM{next(_ids):032d}", sender=phone, body=body)
            path = "/webhooks/twilio/whatsapp"
            assert client.post(path, data=form, headers=signed_headers(path, form), base_url=PUBLIC).status_code == 200
            run_worker(redis)
            return [
                r.form.get("Body", "") for r in fake_twilio.posts()[before:] if r.form.get("To") == f"whatsapp:{phone}"
            ]

        summary = send(SURESH, "2 bora jeera masino, 5 kg masoor dal")
        assert len(summary) == 1 and "Your order:" in summary[0]
        placed = send(SURESH, "YES")
        with fresh_database.session() as s:
            order = s.scalars(select(Order).where(Order.id > seeded[Order])).one()
            ref, order_id = order.ref, order.id
            assert order.status is OrderStatus.WHOLESALER_SELECTED
            winner_phone = s.get(Wholesaler, order.final_wholesaler_id).whatsapp_number
            invites = s.scalars(
                select(OutboundMessage).where(
                    OutboundMessage.kind == "offer_request", OutboundMessage.order_id == order_id
                )
            ).all()
            assert len(invites) >= 2 and all(m.status is OutboundStatus.QUEUED for m in invites)
        assert any(f"Order {ref} is placed" in b for b in placed)
        confirmed = send(winner_phone, f"ACCEPT {ref}")
        assert any(f"DISPATCHED {ref}" in b for b in confirmed)
        with fresh_database.session() as s:
            order = s.get(Order, order_id)
            assert order.status is OrderStatus.CONFIRMED
            debit = s.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order_id)).one()
            assert (debit.entry_type, debit.amount) == (EntryType.DEBIT, order.final_total)
        khata = send(SURESH, "hisab")
        assert len(khata) == 1 and "Outstanding: NPR" in khata[0] and f"Order {ref}" in khata[0]
        with fresh_database.session() as s:
            ours = select(OutboundMessage).where(OutboundMessage.id > seeded[OutboundMessage])
            sids = [m.provider_sid for m in s.scalars(ours) if m.provider_sid]
            assert len(sids) == len(set(sids)) >= 6
            stored = s.scalar(
                select(func.count()).select_from(InboundMessage).where(InboundMessage.id > seeded[InboundMessage])
            )
        assert stored == 4
        if provider == "meta":
            assert fake_twilio.posts() == []  # nothing leaked to the other provider
            assert all(s.startswith("wamid.FAKE") for s in sids)
            assert any(m["type"] == "template" and m["template"]["name"] == "thok_invite" for m in fake_graph.accepted)
        else:
            assert fake_graph.requests == []
    finally:
        context.configure(None)


def _shown(sent: dict[str, Any]) -> str:
    """What the person reads in a Graph API message."""
    if sent["type"] == "text":
        return str(sent["text"]["body"])
    if sent["type"] == "interactive":
        return str(sent["interactive"]["body"]["text"])
    if sent["type"] == "document":
        return str(sent["document"].get("caption", ""))
    return json.dumps(sent.get("template"))


# --- any signed JSON: 200 or 400, never a 500 -----------------------------------------------------

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
_JSON = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip
_FIELDS = st.sampled_from(["id", "from", "type", "text", "interactive", "button", "image", "status", "errors"])


@hypothesis_settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    noise=st.dictionaries(_FIELDS, _JSON | st.just("wamid.X\x00") | st.just("\ud800"), max_size=4),
    kind=st.sampled_from(["text", "interactive", "button", "image", "reaction", "order", 5, None]),
    envelope=st.sampled_from(["ok", "messages-not-list", "value-not-dict", "entry-junk"]),
)
def test_any_signed_json_is_200_or_400_never_500(meta_app, noise, kind, envelope) -> None:
    message = {**text_message(wamid(), RETAILER, "hi"), "type": kind, **noise}
    status = {"id": wamid(), "status": "delivered", **noise}
    payload = webhook_payload([message], [status])
    value = payload["entry"][0]["changes"][0]["value"]
    if envelope == "messages-not-list":
        value["messages"] = message
    elif envelope == "value-not-dict":
        payload["entry"][0]["changes"][0]["value"] = [value]
    elif envelope == "entry-junk":
        payload["entry"].append(noise)
    raw = json.dumps(payload).encode()  # ASCII escapes: a lone surrogate reaches the parser as "\ud800"
    assert meta_app.test_client().post(PATH, data=raw, headers=signed(raw)).status_code in (200, 400)


def test_meta_sends_share_their_own_throughput_limit(meta_settings, fresh_database, redis, fake_graph) -> None:
    # META_MAX_MPS, not Twilio's: 10 per second is a slot every 100 ms, on the business number's clock.
    context.configure(meta_settings.with_overrides(meta_max_mps=10, twilio_max_mps=1000))
    try:
        ids = [outbox(fresh_database, f"message {i}", key=f"thr:{i}") for i in range(5)]
        assert redis.get(f"thok:throttle:meta:{PHONE_NUMBER_ID}") is None
        started = time.monotonic()
        assert all(send_outbound(i).startswith("sent:") for i in ids)
        elapsed = time.monotonic() - started
    finally:
        context.configure(None)
    assert redis.get(f"thok:throttle:meta:{PHONE_NUMBER_ID}") is not None
    assert redis.get("thok:throttle:whatsapp:+14155238886") is None  # the Twilio sender's clock is untouched
    assert elapsed >= 0.35  # four waits of ~100 ms after the first send


# --- people who are not a phone number (issue 18's identity part) ---------------------------------

BSUID = "NP.1502576394655843"


def username_message(wamid_: str, body: str, bsuid: str = BSUID) -> dict[str, Any]:
    """A message from a username user who has not shared their number: no `from`, only the
    business-scoped user id (Meta's `from_user_id`, and `user_id` in contacts)."""
    message = {"from_user_id": bsuid, "id": wamid_, "timestamp": "1764522000", "type": "text", "text": {"body": body}}
    payload = webhook_payload([message])
    payload["entry"][0]["changes"][0]["value"]["contacts"] = [
        {"user_id": bsuid, "profile": {"name": "Suresh", "username": "@kcmart"}}
    ]
    return payload


def test_a_username_user_is_linked_on_the_dashboard_and_then_trades(
    meta_settings: Settings, fresh_database: Database, meta_jobs: Any, fake_graph: FakeGraph, redis: Any
) -> None:
    from handlers.messages import both
    from tests.browser import support

    with fresh_database.unit_of_work() as uow:
        seed_demo(uow.session)
        uow.commit()
    with fresh_database.session() as s:
        suresh = s.scalars(select(Retailer).where(Retailer.whatsapp_number == SURESH)).one()
        suresh_id, last_order = suresh.id, s.scalar(select(func.coalesce(func.max(Order.id), 0)))
    app = create_app(meta_settings, fresh_database, redis_for(meta_settings), TESTING=True)
    client = app.test_client()

    def send(body: str) -> list[str]:
        before = len(fake_graph.to(BSUID))
        assert post_signed(client, username_message(wamid(), body)).status_code == 200
        run_worker(redis)
        return [_shown(m) for m in fake_graph.to(BSUID)[before:]]

    # Unknown: the registration reply goes back to the id itself (Meta's `recipient`), no order.
    assert send("2 bora jeera masino") == [both("register")]
    assert all("to" not in m for m in fake_graph.to(BSUID))
    with fresh_database.session() as s:
        [seen] = s.scalars(select(PartyIdentity).where(PartyIdentity.value == BSUID)).all()
        assert (seen.kind, seen.username, seen.retailer_id, seen.wholesaler_id) == ("bsuid", "@kcmart", None, None)
        seen_id = seen.id

    # An admin links it on the retailer's page (signed in, CSRF token, audited).
    dash = app.test_client()
    page = dash.get("/dashboard/login")
    token = support.csrf_token(page.get_data(as_text=True))
    assert (
        dash.post(
            "/dashboard/login", data={"email": support.ADMIN[0], "password": support.ADMIN[1], "csrf_token": token}
        ).status_code
        == 302
    )
    shown = dash.get(f"/dashboard/retailers/{suresh_id}").get_data(as_text=True)
    assert BSUID in shown and "@kcmart" in shown  # offered in the link form
    link = f"/dashboard/retailers/{suresh_id}/identities/link"
    assert dash.post(link, data={"identity_id": str(seen_id)}).status_code == 400  # no CSRF token: refused
    token = support.csrf_token(shown)
    assert dash.post(link, data={"identity_id": str(seen_id), "csrf_token": token}).status_code == 303
    with fresh_database.session() as s:
        assert s.get(PartyIdentity, seen_id).retailer_id == suresh_id
        [audit] = s.scalars(select(AdminAuditLog).where(AdminAuditLog.action == "identity.link")).all()
        assert audit.entity_id == str(seen_id) and audit.after["retailer_id"] == suresh_id
    assert "WhatsApp ids" in (page := dash.get(f"/dashboard/retailers/{suresh_id}").get_data(as_text=True))
    assert BSUID in page

    # Linked: the same person now orders and confirms, as Suresh's shop.
    summary = send("2 bora jeera masino, 5 kg masoor dal")
    assert len(summary) == 1 and "Your order:" in summary[0]
    placed = send("YES")
    with fresh_database.session() as s:
        order = s.scalars(select(Order).where(Order.id > last_order)).one()
        assert order.retailer_id == suresh_id
        assert any(f"Order {order.ref} is placed" in b for b in placed)


def catalog_order(wamid_: str, sender: str, items: list[tuple[str, Any]]) -> dict[str, Any]:
    """A cart sent from the business's catalog, as Meta delivers it."""
    products = [
        {"product_retailer_id": sku, "quantity": quantity, "item_price": 100, "currency": "NPR"}
        for sku, quantity in items
    ]
    return {
        "from": sender.lstrip("+"),
        "id": wamid_,
        "timestamp": "1764522000",
        "type": "order",
        "order": {"catalog_id": "CATALOG", "text": "please send", "product_items": products},
    }


def test_a_catalog_cart_becomes_a_draft_order_then_the_usual_confirm(
    meta_settings: Settings, fresh_database: Database, meta_jobs: Any, fake_graph: FakeGraph, redis: Any
) -> None:
    with fresh_database.unit_of_work() as uow:
        seed_demo(uow.session)
        uow.commit()
    with fresh_database.session() as s:
        suresh_id = s.scalars(select(Retailer.id).where(Retailer.whatsapp_number == SURESH)).one()
        last_order = s.scalar(select(func.coalesce(func.max(Order.id), 0)))
    client = create_app(meta_settings, fresh_database, redis_for(meta_settings), TESTING=True).test_client()
    # Two of Thok's SKUs, one the catalog has and Thok does not, one malformed quantity (left out).
    cart = catalog_order(wamid(), SURESH, [("RICE-JEERA", 2), ("DAL-MASOOR", "5"), ("NOT-OURS", 1), ("SUGAR", -3)])
    assert post_signed(client, webhook_payload([cart])).status_code == 200
    run_worker(redis)
    [summary] = [_shown(m) for m in fake_graph.to(SURESH)]
    assert "Your order:" in summary and "Jeera" in summary and "Masoor" in summary
    assert "NOT-OURS" in summary  # named back, not guessed
    [stored] = [r for r in inbound_rows(fresh_database) if r.from_number == SURESH and r.body.startswith("2 ")]
    assert stored.body.splitlines() == ["2 RICE-JEERA", "5 DAL-MASOOR", "1 NOT-OURS"]
    assert post_signed(client, webhook_payload([text_message(wamid(), SURESH, "YES")])).status_code == 200
    run_worker(redis)
    with fresh_database.session() as s:
        order = s.scalars(select(Order).where(Order.id > last_order)).one()
        assert order.retailer_id == suresh_id
        lines = {(line.product.sku, line.quantity) for line in order.items}
    assert lines == {("RICE-JEERA", 2), ("DAL-MASOOR", 5)}


def test_a_reminder_that_needs_a_template_names_the_providers_setting(meta_jobs, fresh_database: Database) -> None:
    """With Meta, the reminder job's NOT_SENT reason names META_TEMPLATE_PAYMENT_REMINDER."""
    from datetime import UTC, datetime

    from domain.parties import register_retailer
    from domain.reminders import remind

    assert meta_jobs.channel.template_setting == "META_TEMPLATE"
    with fresh_database.unit_of_work() as uow:
        retailer = register_retailer(uow.session, name="Sita", phone=RETAILER, shop_name="Sita Kirana")
        row_ = remind(
            uow.session,
            retailer.id,
            datetime.now(UTC),
            may_send=False,
            pay_hint=False,
            template_setting=meta_jobs.channel.template_setting,
        )
        assert "META_TEMPLATE_PAYMENT_REMINDER" in (row_.reason or "") and "TWILIO" not in (row_.reason or "")
        uow.rollback()


def test_the_outbox_splits_below_every_channels_limit(meta_settings: Settings, thok_settings: Settings) -> None:
    """One number for the split, checked against what each adapter declares (issue 14: a
    provider's limits live in its adapter)."""
    from channels.simulator import SimulatorChannel

    channels = [channel_for(meta_settings), channel_for(thok_settings), SimulatorChannel()]
    assert {c.name for c in channels} == {"meta", "twilio", "simulator"}
    assert min(c.max_body_chars for c in channels) == messaging.MAX_BODY_CHARS


def test_ids_that_come_with_a_partys_number_are_kept_linked_and_a_known_sender_writes_nothing_more(
    meta_app, fresh_database: Database
) -> None:
    """wa_id and BSUID are stored both and linked to the party on the number; the steady state of a
    known sender (nothing new) leaves the rows alone; a linked id is never moved by a message."""
    from domain.parties import register_retailer

    with fresh_database.unit_of_work() as uow:
        sita = register_retailer(uow.session, name="Sita", phone=RETAILER, shop_name="Sita Kirana").id
        uow.commit()

    def write(number: str, body: str) -> None:
        message = {**text_message(wamid(), number, body), "from_user_id": BSUID}
        payload = webhook_payload([message])
        payload["entry"][0]["changes"][0]["value"]["contacts"][0]["user_id"] = BSUID
        assert post_signed(meta_app.test_client(), payload).status_code == 200

    def ids() -> dict[str, tuple[Any, ...]]:
        with fresh_database.session() as s:
            rows = s.scalars(select(PartyIdentity)).all()
            return {r.kind: (r.value, r.retailer_id, r.phone, r.updated_at) for r in rows}

    write(RETAILER, "hi")
    first = ids()
    assert {k: v[:3] for k, v in first.items()} == {
        "wa_id": (RETAILER[1:], sita, RETAILER),
        "bsuid": (BSUID, sita, RETAILER),
    }
    write(RETAILER, "again")
    assert ids() == first  # nothing new: no write
    write("+9779841999999", "same id, another number")  # the BSUID stays Sita's
    assert ids()["bsuid"][:2] == (BSUID, sita)
