# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""Sending: the real twilio.rest.Client against a fake Twilio on loopback; retries, permanent
failures, the crash window, status callbacks, the 24-hour window, splitting and throttling."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from channels.base import TransientSendError
from db.models import OutboundMessage, OutboundStatus
from db.session import Database
from domain import messaging
from tests.fake_twilio import (  # noqa: F401 (fixtures)
    PUBLIC,
    app,
    fake_twilio,
    jobs,
    run_worker,
    signed_headers,
    thok_settings,
)
from workers import context
from workers.outbound import enqueue_send, send_outbound

TO = "+9779841000002"


def outbox(
    db: Database, body: str, to: str = TO, kind: str = "reply", key: str = "test:1", window: bool = True
) -> list[int]:
    with db.unit_of_work() as uow:
        if window:  # the recipient wrote to us just now: the 24-hour window is open
            messaging.store_inbound(
                uow.session, messaging.IncomingMessage(message_sid=f"SMwin{to[1:]}", from_number=to, body="hi")
            )
        ids = messaging.queue_message(uow.session, to=to, body=body, kind=kind, idempotency_key=key)
        uow.commit()
    return ids


def row(db: Database, outbound_id: int) -> OutboundMessage:
    with db.session() as s:
        found = s.get(OutboundMessage, outbound_id)
        assert found is not None
        s.expunge(found)
        return found


def test_send_goes_through_the_twilio_client_with_a_marked_status_callback(fresh_database, jobs, fake_twilio) -> None:
    [oid] = outbox(fresh_database, "Your order is confirmed")
    assert send_outbound(oid).startswith("sent:")
    [req] = fake_twilio.posts()
    assert req.path == f"/2010-04-01/Accounts/{'AC' + '0' * 32}/Messages.json"
    assert req.authorization.startswith("Basic ")
    assert req.form["From"] == "whatsapp:+14155238886" and req.form["To"] == f"whatsapp:{TO}"
    assert req.form["Body"] == "Your order is confirmed"
    assert req.form["StatusCallback"] == f"{PUBLIC}/webhooks/twilio/status?ob={oid}"
    sent = row(fresh_database, oid)
    assert (sent.status, sent.provider_sid, sent.attempts) == (OutboundStatus.QUEUED, fake_twilio.accepted[0]["sid"], 1)
    assert send_outbound(oid).startswith("skipped")  # run again: nothing is sent twice
    assert len(fake_twilio.posts()) == 1


def test_429_and_500_are_retried_with_backoff_then_succeed(fresh_database, jobs, fake_twilio, redis) -> None:
    [oid] = outbox(fresh_database, "retry me")
    fake_twilio.script[:] = ["429", "500"]
    enqueue_send(redis, jobs.settings, oid)
    run_worker(redis)  # RQ's Retry re-runs the job (intervals are 0 in tests)
    posts = fake_twilio.posts()
    assert len(posts) == 3
    # After the ambiguous 500 the retry first looked the message up instead of resending blindly.
    assert [r.method for r in fake_twilio.requests] == ["POST", "POST", "GET", "POST"]
    sent = row(fresh_database, oid)
    assert (sent.status, sent.attempts, sent.provider_sid) == (OutboundStatus.QUEUED, 3, fake_twilio.accepted[0]["sid"])


def test_permanent_error_is_not_retried_and_keeps_the_reason(fresh_database, jobs, fake_twilio, redis) -> None:
    [oid] = outbox(fresh_database, "too late")
    fake_twilio.script[:] = ["63016"]
    enqueue_send(redis, jobs.settings, oid)
    run_worker(redis)
    assert len(fake_twilio.posts()) == 1
    failed = row(fresh_database, oid)
    assert (failed.status, failed.error_code) == (OutboundStatus.FAILED, "63016")
    assert "outside the window" in (failed.error_message or "")


def test_accepted_but_unanswered_send_is_found_not_resent(fresh_database, jobs, fake_twilio) -> None:
    """The crash window: Twilio accepted the message, the sender never heard back (a timeout here;
    a killed worker is the same state). The re-run adopts Twilio's record instead of resending."""
    [oid] = outbox(fresh_database, "exactly once please")
    fake_twilio.script[:] = ["slow"]
    with pytest.raises(TransientSendError):
        send_outbound(oid)
    assert row(fresh_database, oid).status == OutboundStatus.SENDING
    assert send_outbound(oid).startswith("sent:")
    assert len(fake_twilio.posts()) == 1
    assert row(fresh_database, oid).provider_sid == fake_twilio.accepted[0]["sid"]


def _callback(client: Any, sid: str, status: str, ob: int | None = None, **extra: str) -> int:
    path = "/webhooks/twilio/status" + (f"?ob={ob}" if ob else "")
    form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32, **extra}
    return int(client.post(path, data=form, headers=signed_headers(path, form), base_url=PUBLIC).status_code)


def test_status_callbacks_never_move_a_message_backwards(app, fresh_database, jobs, fake_twilio) -> None:
    [oid] = outbox(fresh_database, "track me")
    send_outbound(oid)
    sid = row(fresh_database, oid).provider_sid
    assert sid
    client = app.test_client()
    seen = []
    for status in ["delivered", "sent", "queued", "read", "delivered", "failed"]:
        assert _callback(client, sid, status, oid) == 204
        seen.append(row(fresh_database, oid).status)
    assert seen == [OutboundStatus.DELIVERED] * 3 + [OutboundStatus.READ] * 3
    # Unsigned callbacks are refused like inbound ones.
    resp = client.post("/webhooks/twilio/status", data={"MessageSid": sid, "MessageStatus": "failed"}, base_url=PUBLIC)
    assert resp.status_code == 403


def test_failed_callback_records_the_error(app, fresh_database, jobs, fake_twilio) -> None:
    [oid] = outbox(fresh_database, "will fail")
    send_outbound(oid)
    sid = row(fresh_database, oid).provider_sid
    assert _callback(app.test_client(), str(sid), "undelivered", oid, ErrorCode="63024") == 204
    got = row(fresh_database, oid)
    assert (got.status, got.error_code) == (OutboundStatus.UNDELIVERED, "63024")


def test_callback_before_the_sid_is_stored_attaches_by_marker(app, fresh_database, jobs, fake_twilio) -> None:
    """The job died after Twilio accepted; the callback's `ob` marker ties it to our row, and the
    re-run job sees the row has moved on and sends nothing."""
    [oid] = outbox(fresh_database, "marker")
    with fresh_database.unit_of_work() as uow:
        claimed = messaging.claim_outbound(uow.session, oid)
        assert claimed is not None
        messaging.mark_sending(uow.session, claimed, messaging.Delivery(body=claimed.body))
        uow.commit()
    assert _callback(app.test_client(), "SM" + "f" * 32, "sent", oid) == 204
    got = row(fresh_database, oid)
    assert (got.status, got.provider_sid) == (OutboundStatus.SENT, "SM" + "f" * 32)
    assert send_outbound(oid).startswith("skipped")
    assert fake_twilio.posts() == []


def test_long_replies_are_split_on_line_boundaries(fresh_database, jobs, fake_twilio) -> None:
    lines = [f"{i:03d}. {'chamal 25kg bora ' * 5}NPR {i * 100}" for i in range(60)]
    body = "\n".join(lines)
    assert len(body) > 3 * 1600
    ids = outbox(fresh_database, body)
    assert len(ids) == 4
    for oid in ids:
        send_outbound(oid)
    sent = [r.form["Body"] for r in fake_twilio.posts()]
    assert all(len(part) <= 1600 for part in sent)
    assert "\n".join(sent) == body  # nothing lost, every cut at a newline
    assert outbox(fresh_database, body) == []  # the same key again queues nothing


def test_split_body_cuts_a_single_long_line_on_spaces() -> None:
    words = " ".join(["dal"] * 1000)
    parts = messaging.split_body(words, limit=100)
    assert all(len(p) <= 100 for p in parts) and " ".join(parts) == words
    assert messaging.split_body("x" * 250, limit=100) == ["x" * 100, "x" * 100, "x" * 50]
    assert messaging.split_body("short") == ["short"]


def test_outside_the_window_without_a_template_fails_with_the_reason(fresh_database, jobs, fake_twilio) -> None:
    [oid] = outbox(fresh_database, "New offer request", kind="offer_request", key="offer:1", window=False)
    assert send_outbound(oid).startswith("failed")
    got = row(fresh_database, oid)
    assert got.status == OutboundStatus.FAILED and "TWILIO_TEMPLATE_OFFER_REQUEST" in (got.error_message or "")
    assert fake_twilio.posts() == []


def test_outside_the_window_a_configured_template_is_sent(thok_settings, fresh_database, redis, fake_twilio) -> None:
    context.configure(thok_settings.with_overrides(twilio_templates=(("offer_request", "HX" + "1" * 32),)))
    try:
        with fresh_database.unit_of_work() as uow:
            [oid] = messaging.queue_message(
                uow.session,
                to=TO,
                body="Offer request: 2 bora chamal",
                kind="offer_request",
                idempotency_key="offer:2",
                content_variables={"1": "2 bora chamal"},
            )
            uow.commit()
        send_outbound(oid)
    finally:
        context.configure(None)
    [req] = fake_twilio.posts()
    assert req.form["ContentSid"] == "HX" + "1" * 32 and "Body" not in req.form
    assert json.loads(req.form["ContentVariables"]) == {"1": "2 bora chamal"}
    assert row(fresh_database, oid).content_sid == "HX" + "1" * 32


def test_sends_are_throttled_across_workers(thok_settings, fresh_database, redis, fake_twilio) -> None:
    context.configure(thok_settings.with_overrides(twilio_max_mps=20))  # one slot every 50 ms
    try:
        ids = [outbox(fresh_database, f"message {i}", key=f"thr:{i}")[0] for i in range(8)]
        workers = [
            threading.Thread(target=lambda part=part: [send_outbound(i) for i in part])
            for part in (ids[::2], ids[1::2])
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        context.configure(None)
    times = sorted(r.at for r in fake_twilio.posts())
    assert len(times) == 8
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # 50 ms slots. Arrival times carry the HTTP round trip's jitter (tens of ms on a loaded 2-core
    # box), so one gap may shrink; unthrottled, the eight posts land within a few ms of each other.
    assert min(gaps) > 0.015, gaps
    assert times[-1] - times[0] >= 0.3
