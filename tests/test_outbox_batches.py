"""The outbox in batches (issue 19): a transaction's messages in one INSERT, one drain job sending
every fresh row, the batch recorded in one UPDATE, and the crash window still closed — a row a
drain is sending is never resumed by the one-row job, and a drain that lost track of a send leaves
it for the lookup at the provider, not for a blind resend."""

from __future__ import annotations

import time

from rq import Queue
from rq.registry import FinishedJobRegistry
from sqlalchemy import event, func, select, text, update
from sqlalchemy.orm import Session

from db.models import InboundMessage, InboundStatus, OutboundMessage, OutboundStatus
from db.session import Database
from domain import messaging, order_facts, outbox
from tests.fake_twilio import (  # noqa: F401 (fixtures)
    PUBLIC,
    fake_twilio,
    jobs,
    run_worker,
    thok_settings,
)
from workers import context
from workers.outbound import BATCH, drain_outbox, enqueue_drain, send_outbound
from workers.queueing import OUTBOUND_QUEUE
from workers.sweeps import sweep_messages

TO = "+9779841000002"
TEMPLATE = "HX" + "1" * 32


def queue(db: Database, n: int, to: str = TO, prefix: str = "batch") -> list[int]:
    with db.unit_of_work() as uow:  # the recipient wrote just now: the 24-hour window is open
        messaging.store_inbound(
            uow.session, messaging.IncomingMessage(message_sid=f"SMwin{to[1:]}", from_number=to, body="hi")
        )
        ids = outbox.queue_messages(
            uow.session,
            [outbox.OutboxMessage(to=to, body=f"message {i}", idempotency_key=f"{prefix}:{i}") for i in range(n)],
        )
        uow.commit()
    return ids


def rows(db: Database, ids: list[int]) -> list[OutboundMessage]:
    with db.session() as s:
        found = list(s.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(ids)).order_by(OutboundMessage.id)))
        for r in found:
            s.expunge(r)
        return found


def wait_for_no_advisory_locks(db: Database, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with db.engine.connect() as conn:
        held = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        while conn.exec_driver_sql(held).scalar_one():
            assert time.monotonic() < deadline, "the dead drain's locks were not released"
            conn.rollback()
            time.sleep(0.05)


def test_messages_of_a_transaction_are_one_insert_deduplicated_and_split(fresh_database) -> None:
    long = "line\n" * 400  # 2,000 characters: two parts
    with fresh_database.unit_of_work() as uow:
        ids = outbox.queue_messages(
            uow.session,
            [
                outbox.OutboxMessage(to=TO, body="first", idempotency_key="k:1"),
                outbox.OutboxMessage(to=TO, body=long, idempotency_key="k:2"),
                outbox.OutboxMessage(to=TO, body="again", idempotency_key="k:1"),  # a duplicate key
            ],
        )
        uow.commit()
    assert len(ids) == 3 and ids == sorted(ids)  # first, and the long one's two parts
    written = rows(fresh_database, ids)
    assert [r.idempotency_key for r in written] == ["k:1", "k:2", "k:2#2"]
    assert written[0].body == "first"
    with fresh_database.unit_of_work() as uow:  # a re-run job writes nothing new
        assert outbox.queue_messages(uow.session, [outbox.OutboxMessage(to=TO, body="x", idempotency_key="k:2")]) == []


def test_one_drain_job_sends_every_waiting_message_in_batches(fresh_database, jobs, fake_twilio, redis) -> None:  # noqa: F811
    ids = queue(fresh_database, BATCH + 10)
    assert enqueue_drain(redis) is True
    assert enqueue_drain(redis) is False  # a drain is queued and has not started: it will see these too
    commits: list[object] = []

    def count(conn: object) -> None:
        commits.append(conn)

    event.listen(jobs.database.engine, "commit", count)  # the worker's own transactions
    try:
        run_worker(redis)
    finally:
        event.remove(jobs.database.engine, "commit", count)
    posts = fake_twilio.posts()
    assert len(posts) == BATCH + 10
    # Each send carries its row's marker, so a status callback finds a row whose record was lost.
    assert sorted(p.form["StatusCallback"] for p in posts) == sorted(
        f"{PUBLIC}/webhooks/twilio/status?ob={i}" for i in ids
    )
    sent = rows(fresh_database, ids)
    assert {r.status for r in sent} == {OutboundStatus.QUEUED}
    assert {r.provider_sid for r in sent} == {a["sid"] for a in fake_twilio.accepted}
    assert all(r.attempts == 1 and r.sent_at is not None for r in sent)
    assert len(FinishedJobRegistry(OUTBOUND_QUEUE, connection=redis)) == 1  # one job, not 60
    assert len(commits) == 2 * 2  # a claim and a record per batch, two batches: no commit per message
    assert enqueue_drain(redis) is True  # the drain started: the next commit queues a new one


def test_a_row_a_drain_is_sending_is_not_resumed_by_the_one_row_job(fresh_database, jobs, fake_twilio) -> None:  # noqa: F811
    [oid] = queue(fresh_database, 1)
    # A drain's claim, held: its provider call is still under way.
    with fresh_database.engine.connect() as conn:
        drain = Session(bind=conn)
        claimed = outbox.claim_fresh(drain, BATCH)
        assert [r.id for r in claimed] == [oid]
        outbox.hold_sends(drain, [oid])
        outbox.mark_sending_many(drain, claimed)
        drain.commit()
        assert rows(fresh_database, [oid])[0].status == OutboundStatus.SENDING
        # The sweep's or a retry's one-row job now: it must not take the row for a dead attempt.
        assert send_outbound(oid).startswith("skipped")
        assert fake_twilio.requests == []
        conn.invalidate()  # the drain dies before calling the provider; its lock goes with it
        drain.close()
    wait_for_no_advisory_locks(fresh_database)  # the server ends the dead connection's backend
    # Free and SENDING: the one-row job looks the message up first, finds nothing, sends it once.
    assert send_outbound(oid).startswith("sent:")
    assert [r.method for r in fake_twilio.requests] == ["GET", "POST"]


def test_a_send_the_drain_lost_track_of_is_looked_up_not_resent(fresh_database, jobs, fake_twilio, redis) -> None:  # noqa: F811
    """Twilio accepted the drain's send but the answer never came (a timeout): the row stays
    SENDING, the one-row retry adopts Twilio's record instead of posting again."""
    [oid] = queue(fresh_database, 1)
    fake_twilio.script[:] = ["slow"]
    assert "retried 1" in drain_outbox()
    assert rows(fresh_database, [oid])[0].status == OutboundStatus.SENDING
    run_worker(redis)  # the one-row retry (retry intervals are 0 in tests)
    assert len(fake_twilio.posts()) == 1
    [done] = rows(fresh_database, [oid])
    assert done.provider_sid == fake_twilio.accepted[0]["sid"]
    assert done.status == OutboundStatus.QUEUED


def test_a_refused_send_fails_with_its_reason_and_the_rest_of_the_batch_goes(fresh_database, jobs, fake_twilio) -> None:  # noqa: F811
    ids = queue(fresh_database, 3)
    fake_twilio.script[:] = ["201", "63016", "201"]
    assert drain_outbox() == "sent 2, failed 1"
    first, refused, last = rows(fresh_database, ids)
    assert (first.status, last.status) == (OutboundStatus.QUEUED, OutboundStatus.QUEUED)
    assert (refused.status, refused.error_code) == (OutboundStatus.FAILED, "63016")


def test_rows_outside_the_24_hour_window_go_to_the_one_row_rules(fresh_database, jobs, fake_twilio) -> None:  # noqa: F811
    with fresh_database.unit_of_work() as uow:  # nobody at this number ever wrote: no window
        [oid] = outbox.queue_messages(
            uow.session, [outbox.OutboxMessage(to="+9779841000099", body="hi", idempotency_key="w")]
        )
        uow.commit()
    assert "one by one 1" in drain_outbox()
    [row] = rows(fresh_database, [oid])
    assert (row.status, row.error_code) == (OutboundStatus.FAILED, "outside_window")  # no template configured
    assert fake_twilio.posts() == []


def test_recording_a_batch_never_moves_a_status_backwards(fresh_database) -> None:
    ids = queue(fresh_database, 2)
    with fresh_database.unit_of_work() as uow:
        messaging.advance_status(uow.session, OutboundStatus.DELIVERED, provider_sid="SMfast", outbound_id=ids[0])
        outbox.record_sent(
            uow.session, [(ids[0], "SMfast", OutboundStatus.QUEUED), (ids[1], "SMtwo", OutboundStatus.QUEUED)]
        )
        uow.commit()
    fast, two = rows(fresh_database, ids)
    assert (fast.status, fast.provider_sid) == (OutboundStatus.DELIVERED, "SMfast")  # the callback won
    assert (two.status, two.provider_sid) == (OutboundStatus.QUEUED, "SMtwo")
    assert fast.sent_at is not None and two.sent_at is not None


def test_an_orders_facts_are_read_once_while_its_notices_are_rendered(fresh_database) -> None:
    """An order's invitations (one per wholesaler) and a decision's notices (winner, others, the
    shop) all describe the same order: while they are rendered its lines are read once."""
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *_: object) -> None:
        if "FROM order_items" in statement:
            statements.append(statement)

    event.listen(fresh_database.engine, "before_cursor_execute", seen)
    try:
        with fresh_database.session() as s:
            order_facts.items_of(s, [999])
            order_facts.items_of(s, [999])
            assert len(statements) == 2  # outside rendering: no memory between calls
            with order_facts.remembered(s):
                first = order_facts.items_of(s, [999])
                first[999].append("changed by a caller")  # type: ignore[arg-type]
                assert order_facts.items_of(s, [999]) == {999: []}  # a copy each time
            assert len(statements) == 3
            order_facts.items_of(s, [999])
            assert len(statements) == 4  # forgotten when the rendering ends
    finally:
        event.remove(fresh_database.engine, "before_cursor_execute", seen)


def test_a_template_send_that_fails_for_now_is_retried_alone_and_the_drain_finishes(
    thok_settings,  # noqa: F811
    fresh_database,
    redis,
    fake_twilio,  # noqa: F811
) -> None:
    context.configure(thok_settings.with_overrides(twilio_templates=(("offer_request", TEMPLATE),)))
    try:
        with fresh_database.unit_of_work() as uow:  # no window: the template goes, one row at a time
            later = outbox.OutboxMessage(
                to="+9779841000098",
                body="quote?",
                idempotency_key="t",
                kind="offer_request",
                content_variables={"1": "quote?"},
            )
            [oid] = outbox.queue_messages(uow.session, [later])
            uow.commit()
        fake_twilio.contents[TEMPLATE] = {}  # approved at Twilio
        fake_twilio.script[:] = ["429"]  # not accepted: back to PENDING, its own job tries again
        assert "one by one 1" in drain_outbox()
        assert rows(fresh_database, [oid])[0].status == OutboundStatus.PENDING
        run_worker(redis)
        [sent] = rows(fresh_database, [oid])
        assert (sent.status, sent.content_sid, sent.attempts) == (OutboundStatus.QUEUED, TEMPLATE, 2)
    finally:
        context.configure(None)


def test_the_sweep_hands_fresh_rows_to_one_drain_and_touched_rows_to_their_own_jobs(
    fresh_database,
    jobs,  # noqa: F811
    fake_twilio,  # noqa: F811
    redis,
) -> None:
    """Fresh rows left waiting (their drain lost with Redis) go to one drain, not a job each; a row
    an attempt touched keeps its one-row job (the lookup before any resend)."""
    fresh = queue(fresh_database, 3)
    [touched] = queue(fresh_database, 1, prefix="touched")
    with fresh_database.unit_of_work() as uow:
        messaging.claim_outbound(uow.session, touched)
        uow.session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == touched)
            .values(status=OutboundStatus.SENDING, attempts=1, status_changed_at=func.now() - text("interval '1 hour'"))
        )
        uow.session.execute(update(InboundMessage).values(status=InboundStatus.PROCESSED))  # only the sends here
        uow.commit()
    assert sweep_messages(grace=0).outbound_enqueued == 2
    waiting = Queue(OUTBOUND_QUEUE, connection=redis).job_ids
    assert sorted(waiting) == sorted(["send-drain-sweep", f"send-{touched}"])
    assert sweep_messages(grace=0).outbound_enqueued == 0  # both still waiting: not twice
    run_worker(redis)
    sent = rows(fresh_database, [*fresh, touched])
    assert {r.status for r in sent} == {OutboundStatus.QUEUED}
    assert len(fake_twilio.posts()) == 4
