# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""The inbound webhook end to end: signature, storage, queue, worker, outbox, and outages.

Real PostgreSQL and Redis; Twilio is faked only at its HTTP boundary (requests are signed with the
twilio library's RequestValidator, replies go out through twilio.rest.Client to a fake server).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from bot.app import create_app
from db.models import InboundMessage, InboundStatus, Language, OutboundMessage, OutboundStatus
from db.session import Database
from domain.parties import register_retailer
from tests.fake_twilio import (  # noqa: F401 (fixtures)
    PUBLIC,
    RedisServer,
    app,
    fake_twilio,
    free_port,
    jobs,
    run_worker,
    signed_headers,
    thok_settings,
    twilio_form,
)
from thok.runtime import redis_for
from workers import context
from workers.sweeps import sweep_messages

PATH = "/webhooks/twilio/whatsapp"
RETAILER = "+9779841000001"


def post(client: Any, form: dict[str, str], headers: dict[str, str] | None = None, **kw: Any) -> Any:
    return client.post(
        PATH, data=form, headers=signed_headers(PATH, form) if headers is None else headers, base_url=PUBLIC, **kw
    )


def count(db: Database, model: Any) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def seed_retailer(db: Database, phone: str = RETAILER, language: Language | None = None) -> None:
    with db.unit_of_work() as uow:
        register_retailer(uow.session, name="Sita", phone=phone, shop_name="Sita Kirana", language=language)
        uow.commit()


def test_forged_or_missing_signature_is_refused_logged_and_not_stored(app, fresh_database, caplog) -> None:
    client = app.test_client()
    form = twilio_form("SM" + "1" * 32)
    caplog.set_level(logging.WARNING)
    assert post(client, form, headers={}).status_code == 403
    assert post(client, form, headers=signed_headers(PATH, form, token="not-the-token")).status_code == 403
    # Signed for another URL (a replay against another endpoint) is as bad as no signature.
    assert post(client, form, headers=signed_headers("/elsewhere", form)).status_code == 403
    tampered = {**form, "Body": "100 bora chamal"}
    assert post(client, tampered, headers=signed_headers(PATH, form)).status_code == 403
    assert count(fresh_database, InboundMessage) == 0
    assert sum("X-Twilio-Signature" in r.getMessage() for r in caplog.records) == 4


def test_message_is_stored_queued_and_answered_with_empty_twiml(app, fresh_database, redis) -> None:
    seed_retailer(fresh_database)
    resp = post(app.test_client(), twilio_form("SM" + "2" * 32, body="namaste"))
    assert resp.status_code == 200
    assert resp.mimetype == "text/xml" and b"<Response></Response>" in resp.data
    with fresh_database.session() as s:
        row = s.scalars(select(InboundMessage)).one()
        stored = (row.id, row.status, row.from_number, row.body, row.profile_name)
    assert stored[1:] == (InboundStatus.QUEUED, RETAILER, "namaste", "Ram")
    assert redis.lrange("rq:queue:inbound", 0, -1) == [f"inbound-{stored[0]}".encode()]


def test_duplicate_deliveries_are_answered_200_and_processed_once(app, fresh_database, redis, fake_twilio) -> None:
    seed_retailer(fresh_database)
    client = app.test_client()
    form = twilio_form("SM" + "3" * 32)
    assert [post(client, form).status_code for _ in range(3)] == [200, 200, 200]
    run_worker(redis)
    assert post(client, form).status_code == 200  # a replay after processing
    run_worker(redis)
    assert count(fresh_database, InboundMessage) == 1
    assert count(fresh_database, OutboundMessage) == 1
    assert len(fake_twilio.posts()) == 1


def test_concurrent_duplicate_deliveries_store_and_reply_once(app, fresh_database, redis, fake_twilio) -> None:
    seed_retailer(fresh_database)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    form = twilio_form("SM" + "4" * 32)
    # The server sees 127.0.0.1:port, Twilio signed the public URL: PUBLIC_BASE_URL reconciles them.
    headers = signed_headers(PATH, form)
    barrier = threading.Barrier(8)
    codes: list[int] = []

    def deliver() -> None:
        barrier.wait()
        codes.append(
            requests.post(f"http://127.0.0.1:{server.server_port}{PATH}", data=form, headers=headers).status_code
        )

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.shutdown()
    assert codes == [200] * 8
    run_worker(redis)
    assert count(fresh_database, InboundMessage) == 1
    assert count(fresh_database, OutboundMessage) == 1
    assert len(fake_twilio.posts()) == 1


def test_redis_down_then_back_loses_nothing(thok_settings, fresh_database, fake_twilio) -> None:
    seed_retailer(fresh_database)
    own = RedisServer(free_port()).start()
    try:
        settings = thok_settings.with_overrides(redis_url=own.url)
        context.configure(settings)
        app = create_app(settings, fresh_database, redis_for(settings))
        own.stop()
        forms = [twilio_form(f"SM{i:032d}", body=f"message {i}") for i in range(3)]
        assert [post(app.test_client(), f).status_code for f in forms] == [200, 200, 200]
        with fresh_database.session() as s:
            assert set(s.scalars(select(InboundMessage.status))) == {InboundStatus.PENDING}
        own.start()  # Redis is back, empty (no persistence): only PostgreSQL remembers
        assert sweep_messages(grace=0).inbound_enqueued == 3
        run_worker(redis_for(settings))
        with fresh_database.session() as s:
            assert set(s.scalars(select(InboundMessage.status))) == {InboundStatus.PROCESSED}
            assert set(s.scalars(select(OutboundMessage.status))) == {OutboundStatus.QUEUED}
        assert len(fake_twilio.posts()) == 3
    finally:
        context.configure(None)
        own.stop()


def test_postgres_refusing_connections_answers_503(thok_settings, jobs) -> None:
    dead = Database(f"postgresql://thok@127.0.0.1:{free_port()}/thok", pool_pre_ping=False)
    app = create_app(thok_settings, dead, redis_for(thok_settings))
    resp = post(app.test_client(), twilio_form("SM" + "5" * 32))
    assert resp.status_code == 503
    assert resp.headers["Retry-After"]


def test_malformed_requests_get_400_and_store_nothing(app, fresh_database, caplog) -> None:
    client = app.test_client()
    caplog.set_level(logging.WARNING)
    missing = twilio_form("SM" + "6" * 32)
    del missing["From"]
    assert post(client, missing).status_code == 400
    big = twilio_form("SM" + "7" * 32, body="x" * 20000)
    assert post(client, big).status_code == 400
    raw = b"MessageSid=SM" + b"8" * 32 + b"&From=whatsapp%3A%2B9779841000001&Body=%FF%FE"
    resp = client.post(
        PATH,
        data=raw,
        base_url=PUBLIC,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "x"},
    )
    assert resp.status_code == 400
    assert post(client, {**twilio_form("SM" + "9" * 32), "NumMedia": "2"}).status_code == 400
    assert count(fresh_database, InboundMessage) == 0
    assert sum(r.levelno == logging.WARNING and "400" in r.getMessage() for r in caplog.records) == 4


def test_unknown_sender_gets_one_bilingual_registration_reply(app, fresh_database, redis, fake_twilio) -> None:
    client = app.test_client()
    for i in range(2):
        assert post(client, twilio_form(f"SMa{i:031d}", sender="+9779800000099", body="hi")).status_code == 200
    run_worker(redis)
    [sent] = fake_twilio.posts()
    assert sent.form["To"] == "whatsapp:+9779800000099"
    assert "not registered" in sent.form["Body"] and "दर्ता" in sent.form["Body"]
    with fresh_database.session() as s:
        assert [m.intent for m in s.scalars(select(InboundMessage))] == ["unregistered", "unregistered"]


def test_media_message_is_kept_and_answered(app, fresh_database, redis, fake_twilio) -> None:
    seed_retailer(fresh_database)
    url = "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1"
    form = twilio_form("MM" + "1" * 32, body="", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")
    assert post(app.test_client(), form).status_code == 200
    run_worker(redis)
    with fresh_database.session() as s:
        row = s.scalars(select(InboundMessage)).one()
        assert (row.num_media, row.media_urls, row.status) == (1, [url], InboundStatus.PROCESSED)
    [sent] = fake_twilio.posts()
    assert "only text orders" in sent.form["Body"]


def test_reply_follows_the_message_script(app, fresh_database, redis, fake_twilio) -> None:
    seed_retailer(fresh_database)
    assert post(app.test_client(), twilio_form("SM" + "b" * 32, body="नमस्ते दाइ")).status_code == 200
    run_worker(redis)
    [sent] = fake_twilio.posts()
    assert sent.form["Body"].startswith("नमस्ते Sita!")


def test_dev_mode_without_token_skips_signatures_and_says_so(thok_settings, fresh_database, jobs, caplog) -> None:
    settings = thok_settings.with_overrides(dev_mode=True, twilio_auth_token=None)
    caplog.set_level(logging.WARNING)
    app = create_app(settings, fresh_database, redis_for(settings))
    assert any("DEV MODE" in r.getMessage() for r in caplog.records)
    assert post(app.test_client(), twilio_form("SM" + "c" * 32), headers={}).status_code == 200
    assert count(fresh_database, InboundMessage) == 1


def test_a_row_stored_but_never_enqueued_is_picked_up_by_the_sweep(app, fresh_database, redis, fake_twilio) -> None:
    """The webhook died between its commit and the enqueue: the row is QUEUED with no job."""
    from domain import messaging

    seed_retailer(fresh_database)
    with fresh_database.unit_of_work() as uow:
        messaging.store_inbound(uow.session, messaging.IncomingMessage("SM" + "d" * 32, RETAILER, "hello"))
        uow.commit()
    run_worker(redis)
    assert fake_twilio.posts() == []
    assert sweep_messages(grace=0).inbound_enqueued == 1
    assert sweep_messages(grace=0).inbound_enqueued == 0  # queued already: not twice
    run_worker(redis)
    assert len(fake_twilio.posts()) == 1
