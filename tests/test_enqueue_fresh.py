"""`enqueue_fresh` writes the job RQ's own enqueue writes (every field of the hash, the queue, the
set of queues), in one script call instead of RQ's six-command MULTI/EXEC, from a template built
once per function and options; options a template cannot hold go through RQ."""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from workers.inbound import enqueue_new_inbound, process_inbound
from workers.outbound import DRAIN_RETRY, drain_outbox
from workers.queueing import INBOUND_QUEUE, INBOUND_RETRY, OUTBOUND_QUEUE, enqueue_fresh, job_status

STAMPS = (b"created_at", b"enqueued_at")


def _without_stamps(redis: Redis, job_id: str) -> dict[Any, Any]:
    fields = redis.hgetall(f"rq:job:{job_id}")
    assert all(fields[name] for name in STAMPS), fields
    return {name: value for name, value in fields.items() if name not in STAMPS}


def _rq_enqueue(redis: Redis, queue: str, func: Any, *args: Any, job_id: str, **options: Any) -> None:
    with redis.pipeline() as pipe:  # what enqueue_fresh did before its template
        Queue(queue, connection=redis).enqueue(func, *args, job_id=job_id, pipeline=pipe, **options)
        pipe.execute()


def test_the_hash_is_field_for_field_what_rq_writes(redis: Redis) -> None:
    options = {"retry": INBOUND_RETRY, "result_ttl": 600, "failure_ttl": 7 * 86400}
    _rq_enqueue(redis, INBOUND_QUEUE, process_inbound, 41, job_id="by-rq", **options)
    enqueue_fresh(redis, process_inbound, 41, job_id="fresh", **options)
    enqueue_fresh(redis, process_inbound, 42, job_id="fresh-2", **options)  # the template's second use
    assert _without_stamps(redis, "fresh") == _without_stamps(redis, "by-rq")
    assert redis.lrange("rq:queue:inbound", 0, -1) == [b"by-rq", b"fresh", b"fresh-2"]
    assert b"rq:queue:inbound" in redis.smembers("rq:queues")

    job = Job.fetch("fresh-2", connection=redis)  # what a worker reads back
    assert (job.func, job.args, job.kwargs) == (process_inbound, (42,), {})
    assert job.description == "workers.inbound.process_inbound(42)"
    assert (job.retries_left, job.retry_intervals, job.origin) == (3, [5, 30, 120], INBOUND_QUEUE)
    assert (job.result_ttl, job.failure_ttl, job.timeout) == (600, 7 * 86400, 180)
    assert job.created_at is not None and job.enqueued_at is not None
    assert job_status(redis, "fresh-2") == JobStatus.QUEUED


def test_a_job_without_arguments_on_another_queue(redis: Redis) -> None:
    options = {"retry": DRAIN_RETRY, "result_ttl": 60, "failure_ttl": 7 * 86400}
    _rq_enqueue(redis, OUTBOUND_QUEUE, drain_outbox, job_id="drain-rq", **options)
    enqueue_fresh(redis, drain_outbox, job_id="drain-fresh", **options)
    assert _without_stamps(redis, "drain-fresh") == _without_stamps(redis, "drain-rq")
    assert redis.lrange("rq:queue:outbound", 0, -1) == [b"drain-rq", b"drain-fresh"]


def test_other_options_go_through_rq(redis: Redis) -> None:
    enqueue_fresh(redis, process_inbound, 7, job_id="with-ttl", ttl=300, result_ttl=600)
    assert 0 < redis.ttl("rq:job:with-ttl") <= 300  # RQ's cleanup(ttl) expired the hash
    assert Job.fetch("with-ttl", connection=redis).ttl == 300


def test_one_command_per_job_and_one_hset(redis: Redis) -> None:
    enqueue_new_inbound(redis, 1)  # builds the template (and RQ's one INFO for the server version)
    redis.config_resetstat()
    for inbound_id in range(2, 12):
        enqueue_new_inbound(redis, inbound_id)
    stats = redis.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): stat["calls"] for name, stat in stats.items()}
    calls = {name: n for name, n in calls.items() if name not in ("info", "config|resetstat")}  # this test's own
    # One EVALSHA from the client (RQ's enqueue: MULTI, SADD, HSET, HSET, RPUSH, EXEC); the
    # script's own calls are counted too.
    assert calls == {"evalsha": 10, "sadd": 10, "hset": 10, "rpush": 10}


def test_the_script_is_loaded_again_after_redis_forgets_it(redis: Redis) -> None:
    enqueue_new_inbound(redis, 1)
    redis.script_flush()  # as after a Redis restart
    enqueue_new_inbound(redis, 2)
    assert Job.fetch("inbound-2", connection=redis).args == (2,)
    assert redis.lrange("rq:queue:inbound", 0, -1) == [b"inbound-1", b"inbound-2"]
