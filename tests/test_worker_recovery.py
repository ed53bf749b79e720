# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""How fast the workers pick up after a fault (issue 19: every recovery within 30 s, with margin),
and what a provider's 429/500 costs the worker log.

- A worker SIGKILLed mid-job: its job ran again after ~15 s (10 s liveness expiry, then the job's
  first retry interval of 5 s, at the back of its queue). Now a 5 s expiry, and the handed-back job
  goes to the front of its queue at once.
- Redis back empty: the sweep looked at a QUEUED row only once it was 10 s old and queued its job
  behind everything waiting. Now the worker's clock notices the empty Redis and sweeps every QUEUED
  row at once, and re-queued messages go first.
- A send the provider put off: RQ logged it at ERROR with two chained tracebacks; now one WARNING.
"""

from __future__ import annotations

import io
import logging
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.executions import prepare_execution
from rq.job import Job, JobStatus
from sqlalchemy import select, update

from db.models import InboundMessage
from db.session import Database
from domain import messaging
from tests.fake_twilio import (  # noqa: F401 (fixtures)
    PUBLIC,
    RedisServer,
    app,
    fake_twilio,
    jobs,
    signed_headers,
    thok_settings,
    twilio_form,
)
from tests.test_pipeline_faults import Workers, own_redis, registered, wait_until, worker_env, workers  # noqa: F401
from thok import logging as thok_logging
from thok.config import Settings
from workers import context as job_context
from workers.inbound import enqueue_inbound
from workers.metrics import MeteredSimpleWorker
from workers.queueing import INBOUND_QUEUE, INBOUND_RETRY, inbound_job_id, job_status
from workers.runner import REDIS_MARK, enqueue_sweep, sweep_after_worker_deaths
from workers.supervision import LIVENESS_TTL, ThokWorker, WorkerDuties, newly_dead_workers, reclaim_abandoned
from workers.sweeps import sweep_messages

TO = "+9779841000002"


def test_a_dead_workers_job_goes_back_to_the_front_of_its_queue_at_once(redis: Redis) -> None:
    """Not after its first retry interval (5 s for a message), at the back: it was taken off the
    queue before everything now waiting. It still uses one of its retries."""
    queue = Queue(INBOUND_QUEUE, connection=redis)
    dead = ThokWorker([queue], connection=redis, name="dead", beats=True)
    dead.register_birth()
    victim = queue.enqueue("tests.test_pipeline_faults.note_run", "x", job_id="victim", retry=INBOUND_RETRY)
    queue.remove(victim)
    prepare_execution(dead, victim)
    victim.set_status(JobStatus.STARTED)
    for n in range(3):  # what came in meanwhile
        queue.enqueue("tests.test_pipeline_faults.note_run", "x", job_id=f"later-{n}")
    redis.delete(f"thok:alive:{dead.name}")  # its beat stopped
    assert reclaim_abandoned(redis, [INBOUND_QUEUE]) == ["victim"]
    assert queue.job_ids == ["victim", "later-0", "later-1", "later-2"]
    assert redis.zcard(f"rq:scheduled:{INBOUND_QUEUE}") == 0  # not scheduled for later
    assert Job.fetch("victim", connection=redis).retries_left == INBOUND_RETRY.max - 1


def test_a_worker_is_alive_from_the_moment_its_duties_take_it_on(redis: Redis) -> None:
    """Not from the duties thread's next beat: a job it starts in between is not taken for a dead
    worker's by another worker's reclaim."""
    queue = Queue(INBOUND_QUEUE, connection=redis)
    fresh = ThokWorker([queue], connection=redis, name="fresh", beats=True)
    WorkerDuties(redis, [INBOUND_QUEUE]).attach(fresh.name)  # not started: no beat at all
    fresh.register_birth()
    job = queue.enqueue("tests.test_pipeline_faults.note_run", "x", job_id="first")
    queue.remove(job)
    prepare_execution(fresh, job)
    job.set_status(JobStatus.STARTED)
    assert 0 < redis.ttl("thok:alive:fresh") <= LIVENESS_TTL
    assert reclaim_abandoned(redis, [INBOUND_QUEUE]) == []
    assert newly_dead_workers(redis) == []


def test_the_job_of_a_killed_worker_runs_again_within_seconds(own_redis: RedisServer, workers: Workers) -> None:
    """Two `thok worker`s; one is SIGKILLed mid-job and not restarted: the other runs the job again.
    Before: 15-16 s (measured by bench/chaos.py, finding 4). Bound: the 5 s expiry, a reclaim look
    every second and the job's own start, with room for a loaded machine."""
    redis = Redis.from_url(own_redis.url)
    first, second = workers.start(), workers.start()
    wait_until(lambda: registered(redis, first) and registered(redis, second), 60, "the workers to start")
    Queue(INBOUND_QUEUE, connection=redis).enqueue(
        "tests.test_pipeline_faults.block_first_run", "runs", job_id="victim", retry=INBOUND_RETRY
    )
    wait_until(lambda: redis.get("runs") == b"1", 30, "the job to start")
    holder = next(w for w in (first, second) if any(
        x.pid == w.pid and x.get_current_job_id() == "victim" for x in ThokWorker.all(connection=redis)
    ))  # fmt: skip
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    killed = time.monotonic()
    took = wait_until(
        lambda: redis.get("runs") == b"2" and job_status(redis, "victim") == JobStatus.FINISHED,
        30,
        "the killed job to run again",
    )
    print(f"job of a SIGKILLed worker finished again after {time.monotonic() - killed:.1f} s")
    assert took <= 9.5, f"{took:.1f} s"  # 6.2 s at load average 10; 10.1 s before (at 15 s by design)


def _store(database: Database, sid: str, ago: float, status: str | None = None) -> int:
    with database.unit_of_work() as uow:
        inbound_id = messaging.store_inbound(uow.session, messaging.IncomingMessage(sid, TO, "hisab"))
        assert inbound_id is not None
        values: dict[str, Any] = {"received_at": datetime.now(UTC) - timedelta(seconds=ago)}
        if status is not None:
            values["status"] = status
        uow.session.execute(update(InboundMessage).where(InboundMessage.id == inbound_id).values(**values))
        uow.commit()
    return inbound_id


def test_after_redis_came_back_empty_every_queued_message_is_swept_at_once_and_first(
    thok_settings: Settings, fresh_database: Database, redis: Redis
) -> None:
    """Before: a QUEUED row whose job Redis lost waited until it was 10 s old, a PENDING one (stored
    while Redis was away) too, and their jobs went behind everything waiting."""
    job_context.configure(thok_settings.with_overrides(sweep_interval_seconds=5))
    try:
        queue = Queue(INBOUND_QUEUE, connection=redis)
        older = _store(fresh_database, "SM" + "1" * 32, ago=3)  # its job lost with Redis
        newer = _store(fresh_database, "SM" + "2" * 32, ago=2)
        pending = _store(fresh_database, "SM" + "3" * 32, ago=1, status="PENDING")  # the webhook gave up
        queue.enqueue("tests.test_pipeline_faults.note_run", "x", job_id="arrived-since")
        assert sweep_messages().inbound_enqueued == 1  # a plain sweep: the PENDING row only
        assert queue.job_ids == [inbound_job_id(pending), "arrived-since"]

        redis.delete(REDIS_MARK)  # Redis restarted empty: the worker's clock notices
        assert enqueue_sweep(thok_settings.with_overrides(sweep_interval_seconds=5))
        emptied = [j for j in Queue("default", connection=redis).get_jobs() if j.id.startswith("sweep-emptied-")]
        assert [j.kwargs for j in emptied] == [{"jobs_lost": True}]
        assert enqueue_sweep(thok_settings.with_overrides(sweep_interval_seconds=5)) is False  # once

        assert sweep_messages(jobs_lost=True).inbound_enqueued == 2
        assert queue.job_ids == [
            inbound_job_id(older),
            inbound_job_id(newer),
            inbound_job_id(pending),
            "arrived-since",
        ]
        with fresh_database.session() as s:
            assert s.scalar(select(InboundMessage.status).where(InboundMessage.id == pending)).value == "QUEUED"
    finally:
        job_context.configure(None)


def test_a_worker_that_died_holding_an_unstarted_job_has_every_queued_message_swept_at_once(
    thok_settings: Settings, fresh_database: Database, redis: Redis
) -> None:
    """RQ takes a job off its queue before it enters it as started: a worker killed in between left
    the job in no queue and no registry, found by the sweep only once its row was 10 s old (a
    kill loop of `thok worker`s lost one job in 1,088 so). Each dead worker is reported once, and
    the sweep queued for it looks at every QUEUED row whatever its age. (Killed after RQ entered the
    job as started but before it marked it STARTED, the same: RQ's cleanup drops the entry and
    leaves the job QUEUED in no queue.)"""
    job_context.configure(thok_settings.with_overrides(sweep_interval_seconds=5))
    try:
        queue = Queue(INBOUND_QUEUE, connection=redis)
        dead = ThokWorker([queue], connection=redis, name="killed", beats=True)
        dead.register_birth()
        alive = ThokWorker([queue], connection=redis, name="alive", beats=True)
        alive.register_birth()
        for name in ("killed", "alive"):  # their duties threads beat
            WorkerDuties(redis, [INBOUND_QUEUE]).attach(name)
        held = _store(fresh_database, "SM" + "4" * 32, ago=1)
        enqueue_inbound(redis, held)
        assert redis.lpop(queue.key) == inbound_job_id(held).encode()  # the dead worker's dequeue
        assert newly_dead_workers(redis) == []  # both beating
        redis.delete("thok:alive:killed")  # its beat stopped
        assert newly_dead_workers(redis) == ["killed"]
        assert newly_dead_workers(redis) == []  # reported once
        sweep_after_worker_deaths(thok_settings, ["killed"])
        [lost] = [j for j in Queue("default", connection=redis).get_jobs() if j.id == "sweep-lost-killed"]
        assert lost.kwargs == {"jobs_lost": True}
        assert sweep_messages().inbound_enqueued == 0  # a plain sweep: the row is not stale yet
        assert sweep_messages(jobs_lost=True).inbound_enqueued == 1
        assert queue.job_ids == [inbound_job_id(held)]
    finally:
        job_context.configure(None)


def test_a_send_the_provider_puts_off_is_one_warning_line_not_tracebacks(
    app: Any, redis: Redis, fake_twilio: Any
) -> None:
    """Before: each 429/500 a send job re-raised for RQ to retry was logged at ERROR with two
    chained tracebacks (the HTTP error and ours)."""
    fake_twilio.script[:] = ["500", "429"]  # the drain's attempt, then the one-row job's first try
    buffer = io.StringIO()
    handler = thok_logging.configure_logging("INFO", "text", stream=buffer)
    try:
        form = twilio_form("SM" + "d" * 32, sender="+9779800000078", body="hi")
        path = "/webhooks/twilio/whatsapp"
        resp = app.test_client().post(path, data=form, headers=signed_headers(path, form), base_url=PUBLIC)
        assert resp.status_code == 200
        MeteredSimpleWorker(["inbound", "outbound"], connection=redis).work(burst=True, with_scheduler=False)
    finally:
        logging.getLogger().removeHandler(handler)
    text = buffer.getvalue()
    assert "Traceback" not in text, text
    put_off = [line for line in text.splitlines() if "send_outbound" in line and "retried" in line]
    assert len(put_off) == 1, text
    assert put_off[0].startswith("WARNING thok.jobs: job send_outbound send-") and "429" in put_off[0], put_off
    assert not [line for line in text.splitlines() if line.startswith("ERROR")], text
    assert len(fake_twilio.accepted) == 1  # and it was sent, once


def test_a_send_that_used_up_its_retries_is_still_logged_in_full(redis: Redis) -> None:
    queue = Queue("outbound", connection=redis)
    queue.enqueue("tests.test_worker_recovery.put_off", job_id="send-9", retry=Retry(max=1))
    buffer = io.StringIO()
    handler = thok_logging.configure_logging("INFO", "text", stream=buffer)
    try:
        MeteredSimpleWorker(["outbound"], connection=redis).work(burst=True, with_scheduler=False)
    finally:
        logging.getLogger().removeHandler(handler)
    text = buffer.getvalue()
    assert "WARNING thok.jobs: job put_off send-9 retried: HTTP 429" in text, text
    assert text.count("Traceback") == 1 and "ERROR rq.worker" in text, text  # the last try: failed


def put_off() -> None:
    from channels.base import TransientSendError

    raise TransientSendError("HTTP 429 (20429): Too Many Requests", maybe_sent=False)
