"""A drain lost between raising the drain flag and starting (its job lost with Redis, or the worker
that raised the flag to drain at once died first) must not hold back the next commits' messages for
the flag's whole expiry: once the flag is older than DRAIN_FLAG_GRACE with no drain started, the
next commit queues a drain of its own (a chaos finding: fresh rows waited up to 60 s)."""

# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Queue
from sqlalchemy import select

from db.models import OutboundMessage, OutboundStatus
from tests.fake_twilio import fake_twilio, thok_settings  # noqa: F401 (fixtures)
from tests.test_notices_per_order import demo_market, write
from workers.outbound import DRAIN_FLAG, DRAIN_FLAG_GRACE, DRAIN_FLAG_SECONDS, enqueue_drain
from workers.queueing import OUTBOUND_QUEUE


def drains(redis: Redis) -> list[str]:
    return [j for j in Queue(OUTBOUND_QUEUE, connection=redis).job_ids if j.startswith("send-drain-")]


def test_a_commit_queues_one_drain_and_the_next_ones_wait_for_it(redis: Redis) -> None:
    assert enqueue_drain(redis) is True
    assert enqueue_drain(redis) is False  # the queued drain will see these rows too
    assert len(drains(redis)) == 1
    assert 0 < redis.ttl(DRAIN_FLAG) <= DRAIN_FLAG_SECONDS


def test_a_flag_whose_drain_never_started_holds_commits_back_for_the_grace_only(redis: Redis) -> None:
    redis.set(DRAIN_FLAG, 1, ex=DRAIN_FLAG_SECONDS)  # raised by a drain that is then lost
    redis.pexpire(DRAIN_FLAG, (DRAIN_FLAG_SECONDS - DRAIN_FLAG_GRACE + 1) * 1000)  # raised GRACE - 1 s ago
    assert enqueue_drain(redis) is False  # it may still start
    redis.pexpire(DRAIN_FLAG, (DRAIN_FLAG_SECONDS - DRAIN_FLAG_GRACE - 1) * 1000)  # raised GRACE + 1 s ago
    assert enqueue_drain(redis) is True  # taken for lost: this commit's rows get a drain now
    assert len(drains(redis)) == 1
    assert redis.ttl(DRAIN_FLAG) > DRAIN_FLAG_SECONDS - 2  # raised afresh for the new drain
    assert enqueue_drain(redis) is False  # and the commits after wait for that one


def test_a_flag_left_without_an_expiry_is_taken_for_lost(redis: Redis) -> None:
    redis.set(DRAIN_FLAG, 1)
    assert enqueue_drain(redis) is True
    assert 0 < redis.ttl(DRAIN_FLAG) <= DRAIN_FLAG_SECONDS


def test_an_inbound_job_sending_its_own_messages_leaves_a_queued_drains_flag_alone(
    redis: Redis, thok_settings: Any, fresh_database: Any, fake_twilio: Any
) -> None:
    """The flag says a drain job is queued and has not started; a job that sends what it committed
    itself is not that drain, so the flag stays (and the commits after it still wait for the queued
    drain instead of queueing more), and costs no Redis call."""
    with demo_market(thok_settings, fresh_database):
        assert enqueue_drain(redis) is True  # some other commit's drain, queued, not started
        assert write(fresh_database, "SMflag0001", "2 bora jeera masino").startswith("processed: 1")
        with fresh_database.session() as s:
            summary = s.scalars(select(OutboundMessage).where(OutboundMessage.in_reply_to_id.is_not(None))).one()
            assert summary.status is OutboundStatus.QUEUED  # sent by the job itself
        assert redis.exists(DRAIN_FLAG)
        assert enqueue_drain(redis) is False and len(drains(redis)) == 1


def test_an_inbound_job_whose_redis_is_away_leaves_its_messages_fresh_for_the_sweep(
    redis: Redis, thok_settings: Any, fresh_database: Any, fake_twilio: Any
) -> None:
    """Its messages' throttle slots are booked before the claim: with Redis away the send fails
    before any row moves to SENDING, so the rows stay fresh (PENDING, never attempted) for the
    outbox sweep's drain, not SENDING for the slower crash-window lookup."""
    with demo_market(thok_settings, fresh_database, redis_url="redis://127.0.0.1:9/0"):  # nothing listens
        assert write(fresh_database, "SMflag0002", "2 bora jeera masino").startswith("processed: 1")
        with fresh_database.session() as s:
            rows = s.execute(select(OutboundMessage.status, OutboundMessage.attempts)).all()
        assert rows == [(OutboundStatus.PENDING, 0)]
