"""What keeps `thok worker` useful through faults, without waiting for RQ's 10-minute maintenance pass.

- **Liveness**: each worker refreshes `thok:alive:{name}` every half second with a 5 s expiry (set
  before it starts, so a job it starts before the first beat is not taken for a dead worker's), and
  marks its RQ worker hash `thok_liveness`. RQ's own heartbeats are minutes long (a SimpleWorker's job
  keeps its started-registry entry for job timeout + 60 s, and only the maintenance pass frees it).
- **Reclaiming**: a job in a started registry whose worker is gone (its liveness key expired, or no
  worker hash at all) is handed to RQ's own abandoned-job handling at once: retried if it has
  retries left (every job of Thok's that matters has), else failed. The retry goes to the front of
  its queue at once, not after the job's retry interval: the job did not fail, its worker died
  (a SIGKILLed worker's job ran again after 15 s: 10 s of expiry and a 5 s first interval). It still
  uses one of the job's retries, so a job that kills its worker every time ends failed. The jobs are
  idempotent, and PostgreSQL, not Redis, says what is still to do.
- **A dead worker's unstarted job**: RQ takes a job off its queue (BLPOP) before it enters it in the
  started registry; a worker killed in between leaves the job in no queue and no registry, and no
  trace of which job it was. Each worker whose beat stopped is reported once (`newly_dead_workers`)
  and `thok worker` has the message sweep look at every row still to do at once, instead of when the
  row is stale (10 s and more).
- **Scheduler**: RQ's scheduler runs in a thread of the worker, not in a forked process. A fork
  outlives a SIGKILLed worker (an orphan holding the scheduler lock) and dies for good on the
  first Redis error until the next maintenance pass. Here the lock is taken or refreshed every
  second with a 10 s lease, so a restarted Redis or a dead holder costs seconds, not minutes.
- **Redis away**: the worker waits with backoff, logging one line when Redis goes and one when it
  is back, and never exits for it (`run_worker` starts a fresh RQ worker after a lost connection).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.exceptions import DequeueTimeout
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.rate_limit import release_slot
from rq.registry import StartedJobRegistry
from rq.results import Result
from rq.scheduler import RQScheduler
from rq.scripts import ACQUIRE_OR_REFRESH_LOCK_SCRIPT, release_lock
from rq.utils import as_text, current_timestamp, now, parse_composite_key, utcformat
from rq.worker import WorkerStatus
from rq.worker_registration import REDIS_WORKER_KEYS

from workers.metrics import MeteredSimpleWorker

log = logging.getLogger(__name__)

# A worker's job is handed back within LIVENESS_TTL + RECLAIM_EVERY * BEAT_SECONDS of its death (6 s).
# Ten missed beats before a live worker counts as dead: its beat is a thread of its own, which a long
# job (in C or not) does not stop, so only a process stalled that long is taken for dead. Its job
# then runs twice: idempotent, and a send looks at the provider before sending again, but a call
# still in flight may not be listed there yet (outbound.py's residual risk), so not shorter.
LIVENESS_TTL = 5  # seconds without a beat before a worker counts as dead
BEAT_SECONDS = 0.5  # liveness beat
SCHEDULE_EVERY = 2  # beats between scheduler ticks (1 s: RQ's scheduler keeps whole seconds)
RECLAIM_EVERY = 2  # beats between looks at the started registries
SCHEDULER_LOCK_TTL = 10  # a dead lock holder is replaced within this
REDIS_BACKOFF_MAX = 5.0  # longest wait between reconnection attempts: Redis back -> working in <= 5 s
# RQ's own worker heartbeat (its hash's `last_heartbeat` and expiry, worker_ttl + 60 s = 8 min): RQ
# writes it three times per job; once in this many seconds keeps the hash as alive. Liveness that
# matters (reclaiming a dead worker's job) is the beat above, not this.
RQ_HEARTBEAT_SECONDS = 10.0
SUSPENSION_CHECK_SECONDS = 1.0  # `rq suspend` takes effect within this, not before the very next job
_MARK = "thok_liveness"
RECLAIM_LOCK = "thok:reclaiming"
DEAD_NOTED = "thok:dead:{}"  # a dead worker reported once (kept an hour, longer than RQ keeps its hash)


def alive_key(worker_name: str) -> str:
    return f"thok:alive:{worker_name}"


def worker_gone(redis: Redis, worker_name: str) -> bool:
    """Is the worker that started an execution dead? A worker of ours says it is alive every half second;
    a worker without our mark (a plain RQ worker, e.g. in tests) counts as alive while RQ keeps its
    hash."""
    if redis.exists(alive_key(worker_name)):
        return False
    if not redis.exists(f"rq:worker:{worker_name}"):
        return True
    mark, death = redis.hmget(f"rq:worker:{worker_name}", [_MARK, "death"])
    return mark is not None or death is not None


def reclaim_abandoned(redis: Redis, queues: Iterable[str]) -> list[str]:
    """Started jobs of dead workers: expire their started-registry entries now and let RQ's own
    cleanup retry (or fail) them, as its maintenance pass would ten minutes later. Returns the job ids."""
    # One reclaimer at a time across workers, so a job is not handed back twice.
    if not redis.set(RECLAIM_LOCK, 1, nx=True, ex=5):  # short: its holder may be the worker that died
        return []
    try:
        reclaimed = _reclaim(redis, queues)
    finally:
        redis.delete(RECLAIM_LOCK)
    if reclaimed:
        log.warning("worker gone: %d started job(s) handed back to their queues: %s", len(reclaimed), reclaimed)
    return reclaimed


def newly_dead_workers(redis: Redis) -> list[str]:
    """Workers of ours whose beat stopped and that no one has reported yet. A live worker whose beat
    was late (a stalled machine) may be reported too: it costs one extra sweep, nothing else."""
    dead: list[str] = []
    keys = sorted(as_text(k) for k in redis.smembers(REDIS_WORKER_KEYS))
    names = [key.rsplit(":", 1)[-1] for key in keys]
    with redis.pipeline(transaction=False) as pipe:  # every worker's mark and beat: one round trip
        for key, name in zip(keys, names, strict=True):
            pipe.hget(key, _MARK)
            pipe.exists(alive_key(name))
        looks = pipe.execute()
    for name, mark, alive in zip(names, looks[::2], looks[1::2], strict=True):
        if mark is None or alive:
            continue
        if redis.set(DEAD_NOTED.format(name), 1, nx=True, ex=3600):
            dead.append(name)
    return dead


class _AbandonedJob(Job):
    """A dead worker's job as `_reclaim` hands it back: retried at the front of its queue now. The
    retry interval is for a job that failed (the database, the provider, a bug), not for one whose
    worker died; the job was taken off its queue before everything now behind it."""

    def retry(self, queue: Queue, pipeline: Pipeline) -> None:
        assert self.retries_left
        self.retries_left -= 1
        queue._enqueue_job(self, pipeline=pipeline, at_front=True)


def _reclaim(redis: Redis, queues: Iterable[str]) -> list[str]:
    reclaimed: list[str] = []
    registries = [StartedJobRegistry(name, connection=redis, job_class=_AbandonedJob) for name in queues]
    with redis.pipeline(transaction=False) as pipe:  # every queue's started jobs: one round trip
        for registry in registries:
            pipe.zrange(registry.key, 0, -1)
        started = pipe.execute()
    for registry, entries in zip(registries, started, strict=True):
        abandoned = []
        for raw in entries:
            composite = raw.decode() if isinstance(raw, bytes) else str(raw)
            job_id, _ = parse_composite_key(composite)
            worker_name = redis.hget(Execution.from_composite_key(composite, redis).key, "worker_name")
            if worker_name is not None and worker_gone(redis, as_text(worker_name)):
                abandoned.append(composite)
                reclaimed.append(job_id)
        if abandoned:
            redis.zadd(registry.key, dict.fromkeys(abandoned, 0), xx=True)
            # A job entered but not yet marked STARTED (its worker died in between; RQ's own worker
            # writes the two apart, ThokWorker in one transaction) is left QUEUED in no queue by
            # RQ's cleanup: the sweep for its dead worker finds it (newly_dead_workers).
            registry.cleanup(timestamp=current_timestamp())
    return reclaimed


class ThreadScheduler:
    """RQ's scheduler work (move due timers and retries to their queues) done by a thread of the
    worker: it dies with the worker, and a Redis error only skips a tick."""

    def __init__(self, queues: Iterable[str], redis: Redis):
        self.rq = RQScheduler(list(queues), connection=redis)
        self._lock = redis.register_script(ACQUIRE_OR_REFRESH_LOCK_SCRIPT)  # RQ's acquire_or_refresh_lock

    def tick(self) -> None:
        # Every queue's lock in one pipeline (RQ's script per queue: 1 acquired, 2 refreshed, 0 taken),
        # then one look for anything due before RQ's pass, which reads each registry in turn.
        names = sorted(self.rq._queue_names)
        with self.rq.connection.pipeline(transaction=False) as pipe:
            for name in names:
                self._lock(keys=[self.rq.get_locking_key(name)], args=[self.rq.name, SCHEDULER_LOCK_TTL], client=pipe)
            locks = pipe.execute()
        owned = {name for name, lock in zip(names, locks, strict=True) if lock in (1, 2)}
        if owned != self.rq._acquired_locks:
            self.rq._acquired_locks = owned
            self.rq.prepare_registries()
            if owned:
                log.info("scheduler: this worker schedules %s", ", ".join(sorted(owned)))
        if owned and self._any_due():
            self.rq.enqueue_scheduled_jobs()

    def _any_due(self) -> bool:
        due_by = current_timestamp()
        with self.rq.connection.pipeline(transaction=False) as pipe:
            for registry in self.rq._scheduled_job_registries:
                pipe.zrangebyscore(registry.key, 0, due_by, start=0, num=1)
            return any(pipe.execute())

    def release(self) -> None:
        """On a clean stop: another worker takes over at its next tick instead of after the lease."""
        for name in self.rq._acquired_locks:
            release_lock(self.rq.connection, self.rq.get_locking_key(name), self.rq.name)
        self.rq._acquired_locks = set()


class RedisWatch:
    """One line when Redis goes away, one when it is back; backoff in between."""

    def __init__(self) -> None:
        self.lost_at: float | None = None

    def lost(self, exc: BaseException) -> None:
        if self.lost_at is None:
            self.lost_at = time.monotonic()
            log.error("Redis unavailable (%s): waiting for it, retrying with backoff", type(exc).__name__)

    def back(self) -> None:
        if self.lost_at is not None:
            log.warning("Redis is back after %.1f s", time.monotonic() - self.lost_at)
            self.lost_at = None

    def wait_for(self, redis: Redis, sleep: Callable[[float], Any] = time.sleep) -> None:
        delay = 0.25
        while True:
            try:
                redis.ping()
                self.back()
                return
            except RedisError as exc:
                self.lost(exc)
                sleep(delay)
                delay = min(delay * 2, REDIS_BACKOFF_MAX)


class _RedisOutageFilter(logging.Filter):
    """RQ logs every failed reconnection, and a traceback when Redis goes mid-job; `RedisWatch`
    says it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], RedisConnectionError | RedisTimeoutError):
            return False
        return "could not connect to Redis" not in str(record.msg)


_FILTER = _RedisOutageFilter()


def quiet_rq_redis_errors() -> None:
    for name in ("rq.worker", "rq.scheduler"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


# RQ's own lines for every job (taken, completed, "Job OK", how long its result is kept): the
# metered worker writes one line per job with its id, outcome and duration, so these only doubled
# the log, and formatting four JSON records per job cost the worker about 5% of its CPU in
# bench/orders_e2e.py. RQ's other lines (start, queues, shutdown) and every warning and error stay.
_PER_JOB_LINES = frozenset(
    {
        "Worker %s: %s: %s (%s)",
        "Worker %s: %s: %s",
        "Successfully completed %s job in %ss on worker %s",
        "Successfully completed job %s in %ss on worker %s",
        "Worker %s: job %s result is kept for %s seconds",
        "Worker %s: job %s result discarded immediately",
    }
)


class _WithoutPerJobLines:
    """RQ's worker logger, minus its per-job INFO lines (dropped before a record is even made)."""

    def __init__(self, logger: logging.Logger):
        self._logger = logger

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if msg in _PER_JOB_LINES:
            return
        self._logger.info(msg, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)


class ThokWorker(MeteredSimpleWorker):
    """`thok worker`'s RQ worker: marked for liveness, waits for Redis instead of spinning on it,
    and remembers whether it was asked to stop (RQ's `work()` returns alike after an error).

    Per job it makes 4 Redis round trips where RQ's SimpleWorker made 20 (bench/worker_loop.py):
    the dequeue (BLPOP) and the job's hash, one transaction to start it (execution record, started
    registry, STARTED) and one to finish it (status, result, finished registry, execution removed,
    worker idle). RQ's worker heartbeat, three per job, is written at most every
    RQ_HEARTBEAT_SECONDS, and the suspension flag read at most every SUSPENSION_CHECK_SECONDS.
    Everything the reclaim, the sweeps and RQ's own maintenance read is written as RQ writes it;
    a failed or retried job goes through RQ's own paths unchanged."""

    max_connection_wait_time = REDIS_BACKOFF_MAX
    redis_watch = RedisWatch()

    def __init__(self, *args: Any, beats: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.log = _WithoutPerJobLines(self.log)  # type: ignore[assignment]
        self.beats = beats  # a WorkerDuties thread beats for it (not in --burst)
        self.stop_asked = False
        self._heartbeat_due = 0.0  # monotonic time of the next RQ heartbeat
        self._suspension_checked = -SUSPENSION_CHECK_SECONDS

    def register_birth(self) -> None:
        super().register_birth()
        if self.beats:  # only then may a missing beat say it is dead
            self.connection.hset(self.key, _MARK, LIVENESS_TTL)

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stop_asked = True
        super().request_stop(signum, frame)

    def unsubscribe_quietly(self) -> None:
        """Stop the pubsub thread of a worker that lost Redis (its teardown could not)."""
        try:
            self.unsubscribe()
        except RedisError:
            if self.pubsub_thread:
                self.pubsub_thread.stop()

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        if timeout is None and time.monotonic() < self._heartbeat_due:
            return  # RQ calls this before and after every dequeue and after every job
        # While Redis is away, wait here (one log line) rather than in RQ's loop, which logs every
        # retry and backs off up to a minute.
        while True:
            try:
                with self.connection.pipeline(transaction=False) as pipe:  # RQ's three writes, one round trip
                    super().heartbeat(timeout, pipe)
                    pipe.execute()
                self._heartbeat_due = time.monotonic() + RQ_HEARTBEAT_SECONDS
                return
            except (RedisConnectionError, RedisTimeoutError) as exc:
                self.redis_watch.lost(exc)
                self.redis_watch.wait_for(self.connection)

    def check_for_suspension(self, burst: bool) -> None:
        if time.monotonic() - self._suspension_checked < SUSPENSION_CHECK_SECONDS:
            return
        super().check_for_suspension(burst)
        self._suspension_checked = time.monotonic()

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """RQ's, without its per-job writes: the worker's state is set idle with the previous job's
        outcome, the heartbeat is throttled (`heartbeat`). Redis away: wait for it, one log line."""
        if max_idle_time is not None:  # not a mode `thok worker` uses
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        self.procline("Listening on " + ",".join(self.queue_names()))
        while True:
            try:
                if self.get_state() != WorkerStatus.IDLE:  # the first dequeue
                    self.set_state(WorkerStatus.IDLE)
                self.heartbeat()
                if self.should_run_maintenance_tasks:
                    self.run_maintenance_tasks()
                result = self.queue_class.dequeue_any(
                    self._ordered_queues,
                    timeout,
                    connection=self.connection,
                    job_class=self.job_class,
                    serializer=self.serializer,
                    death_penalty_class=self.death_penalty_class,
                )
            except DequeueTimeout:
                continue
            except (RedisConnectionError, RedisTimeoutError) as exc:
                self.redis_watch.lost(exc)
                self.redis_watch.wait_for(self.connection)
                self._heartbeat_due = 0.0  # Redis may have come back empty: say so at once
                continue
            if result is not None:
                job, queue = result
                self.reorder_queues(reference_queue=queue)
                job.redis_server_version = self.get_redis_server_version()
                # After a long wait in BLPOP (up to worker_ttl - 15 s) the hash has little of its
                # expiry left: renewed before the job, as RQ does (no Redis call when jobs follow).
                self.heartbeat()
            return result

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        self.perform_job(job, queue, execution)
        # A failed or retried job (RQ's own paths), or a success Redis did not record: as RQ does.
        if self.get_state() != WorkerStatus.IDLE:
            self.set_state(WorkerStatus.IDLE)

    def prepare_execution(self, job: Job) -> Execution:
        """RQ's two round trips before a job (`prepare_execution`, then `prepare_job_execution` in
        the horse) in one transaction: the execution record and started-registry entry, the worker
        busy, the job STARTED. So a job in a started registry is always marked STARTED, which is
        what the reclaim and RQ's cleanup look for."""
        ttl = self.get_heartbeat_ttl(job)
        with self.connection.pipeline() as pipe:
            execution = Execution.create(job, ttl, pipeline=pipe, worker_name=self.name)
            self.executions[execution.id] = execution
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            job.prepare_for_execution(self.name, pipeline=pipe)  # also the job's heartbeat
            pipe.persist(job.key)
            if len(self.queues) == 1:  # dequeued by LMOVE into the intermediate queue
                pipe.lrem(self.queue_class(job.origin, connection=self.connection).intermediate_queue_key, 1, job.id)
            if ttl > self.worker_ttl + 60:  # a job longer than the worker hash lives: keep it for the job
                self.heartbeat(ttl, pipeline=pipe)
            pipe.execute()
        return execution

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        self.procline(f"Processing {job.func_name} from {job.origin} since {time.time()}")  # Redis: done above

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        # RQ writes the job's heartbeat here, one round trip; the outcome's own write stamps it.
        job.ended_at = now()
        job.last_heartbeat = job.ended_at

    def handle_job_success(
        self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry, execution: Execution
    ) -> None:
        """RQ's, in one transaction instead of a WATCH, a read of the job's dependents and the
        transaction: a job with dependents (none of Thok's has: nothing enqueues with depends_on)
        is counted in the same transaction that marks it FINISHED, and only then are they enqueued,
        by RQ. Marking FINISHED and counting in one transaction leaves no gap: a dependent added
        before is counted, one added after sees its parent finished. The job's hash gets the fields
        the run changed rather than the whole job re-serialized, and only keys the job has get its
        expiry. Repeats and result_ttl=0: RQ's own (its result_ttl=0 path reads the job's
        executions back to delete them: more round trips than keeping the result)."""
        result_ttl = job.get_result_ttl(self.default_result_ttl)
        if result_ttl == 0 or (job.repeats_left is not None and job.repeats_left > 0):
            super().handle_job_success(job, queue, started_job_registry, execution)
            return
        assert job.started_at is not None and job.ended_at is not None
        with self.connection.pipeline() as pipe:
            pipe.scard(job.dependents_key)
            self.increment_successful_job_count(pipeline=pipe)
            self.increment_total_working_time(job.ended_at - job.started_at, pipe)
            job._status = JobStatus.FINISHED
            ended = utcformat(job.ended_at)
            pipe.hset(
                job.key,
                mapping={
                    "status": job._status.value,
                    "started_at": utcformat(job.started_at),
                    "ended_at": ended,
                    "last_heartbeat": ended,
                },
            )
            Result.create(
                job,
                Result.Type.SUCCESSFUL,
                return_value=job._result,
                ttl=result_ttl,
                worker_name=self.name,
                pipeline=pipe,
                execution_id=execution.id,
                execution_started_at=execution.created_at,
                execution_ended_at=job.ended_at,
            )
            job.finished_job_registry.add(job, result_ttl, pipe)
            if result_ttl > 0:  # RQ's `job.cleanup`, without expiring keys the job does not have
                pipe.expire(job.key, result_ttl)
                if job._dependency_ids:
                    pipe.expire(job.dependencies_key, result_ttl)
            self.cleanup_execution(job, pipeline=pipe, execution=execution)
            self.set_state(WorkerStatus.IDLE, pipeline=pipe)
            try:
                dependents = pipe.execute()[0]
            except RedisError:
                # Not recorded: `execute_job` then writes the state itself, and with Redis away
                # that ends RQ's loop as before, so `run_worker` starts a worker of a new name and
                # this one's job, still STARTED, is reclaimed once its name stops beating.
                self._state = WorkerStatus.BUSY
                raise
        if dependents:
            queue.enqueue_dependents(job)
            if result_ttl > 0:
                self.connection.expire(job.dependents_key, result_ttl)
        release_slot(job)


class WorkerDuties:
    """The worker's background thread: liveness beat, scheduler tick, reclaiming dead workers' jobs."""

    def __init__(self, redis: Redis, queues: Iterable[str], on_dead: Callable[[list[str]], Any] | None = None):
        self.redis = redis
        self.queues = list(queues)
        self.on_dead = on_dead  # called with the names of workers found dead (each once)
        self.scheduler = ThreadScheduler(self.queues, redis)
        self.worker_name: str | None = None
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-duties", daemon=True)

    def start(self) -> WorkerDuties:
        self._thread.start()
        return self

    def attach(self, worker_name: str) -> None:
        """Beat for this worker from now: alive before its first job, not from the thread's next beat
        (a job started in between would look like a dead worker's to another worker's reclaim)."""
        self.worker_name = worker_name
        self.redis.set(alive_key(worker_name), 1, ex=LIVENESS_TTL)

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=5)
        try:
            self.scheduler.release()
            if self.worker_name:
                self.redis.delete(alive_key(self.worker_name))
        except RedisError:
            pass

    def beat(self, n: int) -> None:
        if self.worker_name:
            self.redis.set(alive_key(self.worker_name), 1, ex=LIVENESS_TTL)
        if n % SCHEDULE_EVERY == 0:
            self.scheduler.tick()
        if n % RECLAIM_EVERY == 1:  # not on the scheduler's beat: the two in turn
            reclaim_abandoned(self.redis, self.queues)
            dead = newly_dead_workers(self.redis)
            if dead and self.on_dead is not None:
                self.on_dead(dead)

    def _run(self) -> None:
        n = 0
        while not self.stop.is_set():
            try:
                self.beat(n)
            except RedisError:
                pass  # the worker's own loop reports and waits; the next beat tries again
            except Exception:
                log.exception("worker duties: unexpected error; trying again next beat")
            n += 1
            self.stop.wait(BEAT_SECONDS)
