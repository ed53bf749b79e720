"""`thok worker`'s RQ loop (workers/supervision.py `ThokWorker`): what one job costs in Redis round
trips, and that what RQ's own loop wrote and Thok or RQ reads is still written (bench/worker_loop.py
measures the same with a real `thok worker` process).

RQ 3.0's SimpleWorker made about 20 round trips per job (56 commands): three heartbeats of three
commands each, the worker's state three times, the suspension flag, two transactions to start the
job and, after it, the job's heartbeat, a WATCH, a read of its dependents and the outcome's
transaction. ThokWorker makes 4: the dequeue, the job's hash, one transaction to start it, one to
finish it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis
from redis.connection import Connection
from redis.exceptions import RedisError
from rq import Queue, get_current_job
from rq.job import Job, JobStatus
from rq.suspension import resume, suspend
from rq.utils import as_text
from rq.worker import WorkerStatus

from tests.fake_twilio import RedisServer
from tests.test_pipeline_faults import own_redis  # noqa: F401 (fixture)
from workers.queueing import INBOUND_QUEUE, INBOUND_RETRY, OUTBOUND_QUEUE, QUEUES
from workers.supervision import ThokWorker, ThreadScheduler, alive_key, newly_dead_workers, reclaim_abandoned


class _CountingConnection(Connection):
    """Counts what the client sends: a round trip per send, a pipeline's commands in one."""

    trips = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).trips += 1
        super().send_packed_command(command, check_health)


@pytest.fixture
def counted(redis_url: str, redis: Redis) -> Iterator[Redis]:
    client = Redis.from_url(redis_url, connection_class=_CountingConnection)
    yield client
    client.close()


def noop(n: int) -> int:
    return n


def observe(key: str) -> str:
    """What the rest of the system sees of a running job (read on its own connection)."""
    job = get_current_job()
    assert job is not None
    redis = job.connection
    [entry] = [as_text(e) for e in redis.zrange(f"rq:wip:{job.origin}", 0, -1)]  # type: ignore[arg-type]
    execution = redis.hgetall(f"rq:execution:{entry}")
    redis.hset(
        key,
        mapping={
            "status": redis.hget(job.key, "status") or b"",
            "registry_job": entry.split(":", 1)[0],
            "execution_worker": execution.get(b"worker_name", b""),
            "worker_state": redis.hget(f"rq:worker:{job.worker_name}", "state") or b"",
            "worker_executions": redis.scard(f"rq:worker:{job.worker_name}:executions"),
        },
    )
    return "seen"


def lock_redis_out(port: int) -> str:
    """Redis refuses every client from now on (its connections cut, a password set), its data kept."""
    admin = Redis(port=port)
    admin.config_set("requirepass", "locked")
    admin.client_kill_filter(_type="normal", skipme=True)
    return "locked out"


def _enqueue(redis: Redis, n: int, start: int = 0) -> None:
    queue = Queue(INBOUND_QUEUE, connection=redis)
    for i in range(start, start + n):  # the webhook's options (workers/inbound.enqueue_new_inbound)
        queue.enqueue(noop, i, job_id=f"loop-{i}", retry=INBOUND_RETRY, result_ttl=600, failure_ttl=7 * 86400)


def _trips_for(redis: Redis, counted: Redis, n: int, start: int) -> int:
    _enqueue(redis, n, start)
    before = _CountingConnection.trips
    # One queue: a burst worker on several LPOPs each in turn (no blocking pop), one trip per queue.
    assert ThokWorker([INBOUND_QUEUE], connection=counted).work(burst=True, with_scheduler=False)
    return _CountingConnection.trips - before


def test_a_job_costs_the_worker_four_round_trips(redis: Redis, counted: Redis) -> None:
    """Two burst runs of 5 and 25 jobs: their difference is what 20 jobs cost, without the worker's
    start and end. Was 20.2 per job (RQ 3.0's SimpleWorker, bench/worker_loop.py --monitor)."""
    few = _trips_for(redis, counted, 5, 0)
    many = _trips_for(redis, counted, 25, 100)
    per_job = (many - few) / 20
    print(f"round trips per job: {per_job:.2f}")
    assert per_job <= 4.5, per_job
    assert all(Job.fetch(f"loop-{i}", connection=redis).get_status() == JobStatus.FINISHED for i in range(100, 125))


def test_a_running_job_is_started_registered_and_its_worker_busy(redis: Redis) -> None:
    """What the reclaim (workers.supervision._reclaim), RQ's cleanup and `rq info` read while a job
    runs: STARTED, in its queue's started registry with an execution naming its worker, the worker
    busy with one execution."""
    queue = Queue(INBOUND_QUEUE, connection=redis)
    queue.enqueue(observe, "seen", job_id="watched", retry=INBOUND_RETRY, result_ttl=600)
    worker = ThokWorker([queue], connection=redis, name="watcher")
    worker.work(burst=True, with_scheduler=False)
    seen = {as_text(k): as_text(v) for k, v in redis.hgetall("seen").items()}
    assert seen == {
        "status": "started",
        "registry_job": "watched",
        "execution_worker": "watcher",
        "worker_state": "busy",
        "worker_executions": "1",
    }


def test_a_finished_job_is_left_as_rq_leaves_it(redis: Redis) -> None:
    queue = Queue(INBOUND_QUEUE, connection=redis)
    job = queue.enqueue(noop, 7, job_id="done", retry=INBOUND_RETRY, result_ttl=600, failure_ttl=7 * 86400)
    worker = ThokWorker([queue], connection=redis, name="finisher")  # one queue: dequeued by LMOVE
    worker.work(burst=True, with_scheduler=False)
    job = Job.fetch("done", connection=redis)
    assert job.get_status() == JobStatus.FINISHED
    assert job.started_at is not None and job.ended_at is not None and job.ended_at >= job.started_at
    assert job.worker_name == "finisher"
    assert job.return_value() == 7  # the result is kept, for result_ttl
    assert 590 <= redis.ttl(job.key) <= 600
    assert "done" in queue.finished_job_registry.get_job_ids()
    assert redis.zcard(queue.started_job_registry.key) == 0
    assert redis.keys("rq:execution:*") == [] and redis.scard("rq:worker:finisher:executions") == 0
    assert redis.llen(queue.intermediate_queue_key) == 0
    assert job.retries_left == INBOUND_RETRY.max
    worker_hash = redis.hgetall(worker.key)
    assert worker_hash[b"successful_job_count"] == b"1"
    assert b"last_heartbeat" in worker_hash and redis.ttl(worker.key) > 0


def test_a_failing_job_goes_through_rqs_retry_and_the_worker_is_idle_again(redis: Redis) -> None:
    queue = Queue(OUTBOUND_QUEUE, connection=redis)
    queue.enqueue(noop, job_id="bad", retry=INBOUND_RETRY)  # no argument: raises TypeError
    worker = ThokWorker([queue], connection=redis, name="failer")
    worker.work(burst=True, with_scheduler=False)
    job = Job.fetch("bad", connection=redis)
    assert job.get_status() == JobStatus.SCHEDULED and job.retries_left == INBOUND_RETRY.max - 1
    assert redis.zcard(queue.started_job_registry.key) == 0
    assert redis.hget(worker.key, "state") == WorkerStatus.IDLE.value.encode()


def test_a_dependent_job_still_runs_after_its_parent(redis: Redis) -> None:
    """Thok enqueues nothing with depends_on, but a dependent is not lost if something does."""
    queue = Queue(INBOUND_QUEUE, connection=redis)
    parent = queue.enqueue(noop, 1, job_id="parent", result_ttl=600)
    queue.enqueue(noop, 2, job_id="child", depends_on=parent, result_ttl=600)
    ThokWorker([queue], connection=redis).work(burst=True, with_scheduler=False)
    assert Job.fetch("child", connection=redis).get_status() == JobStatus.FINISHED
    for key in ("rq:job:parent:dependents", "rq:job:child:dependencies"):  # expire with their job
        assert redis.ttl(key) != -1, key


def test_a_suspended_worker_takes_no_job(redis: Redis) -> None:
    """`rq suspend` is read before the first job (then at most once a second, not before each)."""
    _enqueue(redis, 1)
    suspend(redis)
    try:
        assert not ThokWorker(list(QUEUES), connection=redis).work(burst=True, with_scheduler=False)
    finally:
        resume(redis)
    assert Queue(INBOUND_QUEUE, connection=redis).count == 1


def test_a_success_redis_did_not_record_ends_rqs_loop(own_redis: RedisServer) -> None:  # noqa: F811
    """As RQ's loop did: `run_worker` then starts a worker of a new name, and the job, still STARTED
    under the old one, is reclaimed once that name stops beating. A worker that went on under its
    old name would keep it beating, and the job would wait for RQ's maintenance pass."""
    redis = Redis.from_url(own_redis.url)
    queue = Queue(INBOUND_QUEUE, connection=redis)
    queue.enqueue(lock_redis_out, own_redis.port, job_id="unrecorded", retry=INBOUND_RETRY, result_ttl=600)
    worker = ThokWorker([INBOUND_QUEUE], connection=Redis.from_url(own_redis.url), name="cut-off")
    unlock = threading.Timer(8, lambda: Redis(port=own_redis.port, password="locked").config_set("requirepass", ""))
    unlock.start()
    started = time.monotonic()
    try:
        with contextlib.suppress(RedisError):
            worker.work(burst=True, with_scheduler=False)
        took = time.monotonic() - started
    finally:
        unlock.join()
        worker.unsubscribe_quietly()  # as `run_worker` does: its teardown could not
        ThokWorker.redis_watch.lost_at = None
    assert took < 6, f"the worker waited for Redis under its old name ({took:.1f} s)"
    assert Job.fetch("unrecorded", connection=redis).get_status() == JobStatus.STARTED
    assert [as_text(e).split(":")[0] for e in redis.zrange(queue.started_job_registry.key, 0, -1)] == ["unrecorded"]  # type: ignore[arg-type]


def test_the_duties_look_for_dead_workers_in_three_round_trips_and_for_their_jobs_in_three(
    redis: Redis, counted: Redis
) -> None:
    """Once a second per worker (WorkerDuties): every queue's started registry in one pipeline, every
    worker's mark and beat in another; it was one round trip per queue and two per worker (12 here)."""
    for name in ("beating", "silent"):
        ThokWorker([INBOUND_QUEUE], connection=redis, name=name, beats=True).register_birth()
    redis.set(alive_key("beating"), 1, ex=5)
    counted.ping()  # the connection's own handshake is not the look's
    before = _CountingConnection.trips
    assert reclaim_abandoned(counted, QUEUES) == []
    looked = _CountingConnection.trips
    assert newly_dead_workers(counted) == ["silent"]
    assert (looked - before, _CountingConnection.trips - looked) == (3, 3)  # lock, look, unlock; workers, look, noted


def test_a_scheduler_tick_is_three_round_trips_and_still_moves_what_is_due(redis: Redis, counted: Redis) -> None:
    """Every second (WorkerDuties): the four queues' locks in one pipeline (with redis-py's check that
    the script is loaded) and one look for anything due; it was a round trip per lock and per queue (8)."""
    scheduler = ThreadScheduler(QUEUES, counted)
    counted.ping()
    scheduler.tick()  # takes the locks
    before = _CountingConnection.trips
    scheduler.tick()
    assert _CountingConnection.trips - before == 3
    queue = Queue(INBOUND_QUEUE, connection=redis)
    queue.enqueue_at(datetime.now(UTC) - timedelta(seconds=1), noop, 1, job_id="due")
    queue.enqueue_at(datetime.now(UTC) + timedelta(hours=1), noop, 2, job_id="later")
    scheduler.tick()
    assert queue.job_ids == ["due"]
    scheduler.release()
