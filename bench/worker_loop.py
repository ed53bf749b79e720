"""What RQ's own loop costs per job in a real `thok worker`: Redis commands and CPU, job aside.

    .venv/bin/python bench/worker_loop.py [--jobs 2000] [--rounds 2] [--redis redis://127.0.0.1:6379/8]
        [--url postgresql://postgres@127.0.0.1:5432/postgres] [--db-name thok_bench_worker_loop]
        [--result-ttl 600] [--rate 0] [--py-spy PREFIX] [--monitor] [--worker-root DIR]

Starts one `thok worker` process (the Procfile's command) on a database of its own and pushes
no-op jobs through it, enqueued as the webhook enqueues an inbound message (`enqueue_new_inbound`'s
options: the inbound queue, INBOUND_RETRY, result_ttl 600, failure_ttl 7 days). A no-op job leaves
only what RQ and Thok's worker classes do around a job: dequeue, started registry, execution record,
heartbeats, result, finished registry, metrics and the job's log line.

Per round it prints, per job: Redis commands by name (INFO commandstats delta, the bench's own
enqueue and polling commands taken out), Redis round trips the worker made (`--monitor` only), the
worker process's CPU (psutil, all its threads) and Redis's CPU. The worker's background thread
(liveness beat, scheduler tick, reclaim look) costs the same per second whatever the load: it is
measured idle for a few seconds first and taken out of the per-job figures ("net").
`--rate N` enqueues N jobs/s one at a time (the worker then waits in BLPOP between jobs, as at
moderate load) instead of all at once. `--result-ttl 0` measures what keeping no result would buy.
`--monitor` runs an extra round under MONITOR to count the worker's round trips per job (pipelines
count once; MONITOR slows Redis, so that round's CPU is not printed). `--worker-root` runs the
worker from another checkout (`git archive <commit> | tar -x -C DIR`): an A/B against older code
in the same minute. Counting commands needs a Redis nothing else uses meanwhile (INFO is per server).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The worker imports `bench.worker_loop.noop` by the path RQ stored: the module must stay cheap to import.

NOOP_PATH = "bench.worker_loop.noop"


def noop(n: int) -> int:
    """The job: nothing, so what is measured is everything around it."""
    return n


def main() -> None:
    import psutil
    import redis as redis_lib

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from benchdb import recreate_database  # noqa: PLC0415

    from db.migrate import upgrade  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--db-name", default="thok_bench_worker_loop")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=float, default=0, help="jobs/s one at a time (0: all at once)")
    parser.add_argument("--result-ttl", type=int, default=600)
    parser.add_argument("--idle-seconds", type=float, default=4.0)
    parser.add_argument("--py-spy", metavar="PREFIX", help="record the worker during the rounds (raw, --gil)")
    parser.add_argument("--monitor", action="store_true", help="one more round under MONITOR: round trips")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--worker-root", type=Path, default=ROOT, help="the checkout the worker runs from")
    args = parser.parse_args()

    url = recreate_database(args.url, args.db_name)
    upgrade(url)
    redis = redis_lib.Redis.from_url(args.redis)
    redis.flushdb()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")},
        "DATABASE_URL": url,
        "REDIS_URL": args.redis,
        "THOK_DEV_MODE": "1",
        "SECRET_KEY": "bench",
        "LOG_LEVEL": "WARNING",
        "WORKER_METRICS_PORT": "0",
        "SWEEP_INTERVAL_SECONDS": "3600",  # the clock's jobs are not per-job work
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="thok-bench-loop-metrics-"),
    }
    # The worker imports the no-op job from this checkout's bench/ whichever checkout it runs.
    env["PYTHONPATH"] = os.pathsep.join([str(args.worker_root), str(ROOT)])
    worker = subprocess.Popen([sys.executable, "-m", "thok", "worker"], cwd=args.worker_root, env=env)
    spy: subprocess.Popen[bytes] | None = None
    try:
        proc = psutil.Process(worker.pid)
        _wait_for_worker(redis)
        bench = Bench(redis, args.result_ttl)
        bench.round(args.warmup, 0)  # imports, first connections, the sweeps queued at start
        time.sleep(1)
        idle = bench.idle(proc, args.idle_seconds)
        print(f"idle background: {idle['commands_s']:.1f} Redis commands/s, worker CPU {idle['cpu_s'] * 1000:.2f} ms/s")
        if args.py_spy:
            spy = subprocess.Popen(
                ["py-spy", "record", "--gil", "--nonblocking", "-r", "200", "-f", "raw", "-o",
                 f"{args.py_spy}.txt", "-p", str(worker.pid)],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1)
        for r in range(args.rounds):
            figures = bench.measured_round(proc, args.jobs, args.rate, idle)
            _print_round(f"round {r + 1}", args.jobs, figures)
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=60)
            spy = None
        if args.monitor:
            trips = bench.monitored_round(args.jobs, args.rate, worker.pid)
            print(f"monitor round: worker's round trips per job {trips:.2f} (its background thread included)")
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=60)
        worker.terminate()
        worker.wait(timeout=30)
        if not args.keep_db:
            recreate_database(args.url, args.db_name, drop_only=True)


def _wait_for_worker(redis: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for key in redis.smembers("rq:workers"):
            if redis.hget(key, "thok_liveness") is not None:
                return
        time.sleep(0.1)
    raise SystemExit("the worker did not start")


class Bench:
    def __init__(self, redis: Any, result_ttl: int):
        from rq import Queue  # noqa: PLC0415

        from workers.queueing import INBOUND_QUEUE, INBOUND_RETRY  # noqa: PLC0415

        self.redis = redis
        self.queue = Queue(INBOUND_QUEUE, connection=redis)
        self.retry = INBOUND_RETRY
        self.result_ttl = result_ttl
        self.own: collections.Counter[str] = collections.Counter()  # the bench's own commands
        self.seq = 0

    def enqueue(self, n: int) -> str:
        """As RQ enqueues with a pipeline (the bench counts and takes out its own commands; the webhook
        now enqueues with one script, `enqueue_fresh`, whose hash is field for field the same). Returns
        the last job's id."""
        last = ""
        for _ in range(n):
            self.seq += 1
            last = f"loop-{self.seq}"
            with self.redis.pipeline() as pipe:
                self.queue.enqueue(
                    NOOP_PATH, self.seq, job_id=last, retry=self.retry, result_ttl=self.result_ttl,
                    failure_ttl=7 * 86400, pipeline=pipe,
                )  # fmt: skip
                self.own.update(str(c[0][0]).lower() for c in pipe.command_stack)
                self.own.update(["multi", "exec"])
                pipe.execute()
        return last

    def wait_done(self, last: str) -> None:
        while True:
            self.own["llen"] += 1
            if self.redis.llen(self.queue.key) == 0:
                self.own["hget"] += 1
                status = self.redis.hget(f"rq:job:{last}", "status")
                if status in (b"finished", None):
                    return
            time.sleep(0.02)

    def round(self, n: int, rate: float) -> float:
        started = time.perf_counter()
        if rate <= 0:
            last = self.enqueue(n)
        else:
            for i in range(n):
                last = self.enqueue(1)
                time.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
        self.wait_done(last)
        return time.perf_counter() - started

    def snapshot(self) -> tuple[collections.Counter[str], float]:
        info = self.redis.execute_command("INFO", "commandstats", "cpu")
        self.own["info"] += 1
        calls = collections.Counter(
            {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items() if k.startswith("cmdstat_")}
        )
        return calls, float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def idle(self, proc: Any, seconds: float) -> dict[str, float]:
        self.own.clear()
        calls0, _ = self.snapshot()
        cpu0 = _cpu(proc)
        time.sleep(seconds)
        cpu1 = _cpu(proc)
        calls1, _ = self.snapshot()
        delta = calls1 - calls0 - self.own
        return {"commands_s": sum(delta.values()) / seconds, "cpu_s": (cpu1 - cpu0) / seconds}

    def measured_round(self, proc: Any, n: int, rate: float, idle: dict[str, float]) -> dict[str, Any]:
        self.own.clear()
        calls0, rcpu0 = self.snapshot()
        cpu0 = _cpu(proc)
        wall = self.round(n, rate)
        cpu1 = _cpu(proc)
        calls1, rcpu1 = self.snapshot()
        delta = calls1 - calls0 - self.own
        return {
            "wall": wall,
            "commands": delta,
            "idle_commands": idle["commands_s"] * wall,
            "cpu": cpu1 - cpu0,
            "idle_cpu": idle["cpu_s"] * wall,
            "redis_cpu": rcpu1 - rcpu0,
        }

    def monitored_round(self, n: int, rate: float, worker_pid: int) -> float:
        """Round trips: MONITOR lines of the worker's connections, a MULTI..EXEC block counted once."""
        import psutil  # noqa: PLC0415

        ports = {c.laddr.port for c in psutil.Process(worker_pid).net_connections(kind="tcp") if c.raddr}
        lines: list[str] = []
        stop = threading.Event()
        mon_conn = self.redis.connection_pool.get_connection()
        mon_conn.send_command("MONITOR")
        mon_conn.read_response()

        def listen() -> None:
            while not stop.is_set():
                if mon_conn.can_read(timeout=0.2):
                    raw = mon_conn.read_response()
                    lines.append(raw.decode() if isinstance(raw, bytes) else str(raw))

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        time.sleep(0.5)
        lines.clear()
        self.round(n, rate)
        time.sleep(0.2)
        stop.set()
        thread.join()
        mon_conn.disconnect()
        trips = 0
        in_multi: set[str] = set()
        for line in lines:
            parts = line.split(" ", 4)
            if len(parts) < 4:
                continue
            client = parts[2].rstrip("]")
            if not any(client.endswith(f":{p}") for p in ports):
                continue
            cmd = parts[3].strip('"').lower()
            if cmd == "multi":
                in_multi.add(client)
                trips += 1
            elif cmd == "exec":
                in_multi.discard(client)
            elif client not in in_multi:
                trips += 1
        return trips / n


def _cpu(proc: Any) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def _print_round(label: str, n: int, f: dict[str, Any]) -> None:
    commands: collections.Counter[str] = f["commands"]
    total = sum(commands.values())
    per_job = (total - f["idle_commands"]) / n
    cpu_net = (f["cpu"] - f["idle_cpu"]) / n * 1000
    print(
        f"{label}: {n} jobs in {f['wall']:.2f} s ({n / f['wall']:.0f}/s); Redis commands per job "
        f"{total / n:.2f} ({per_job:.2f} net); worker CPU per job {f['cpu'] / n * 1000:.3f} ms "
        f"({cpu_net:.3f} net); Redis CPU per job {f['redis_cpu'] / n * 1000:.3f} ms"
    )
    top = ", ".join(f"{k} {v / n:.2f}" for k, v in commands.most_common() if v / n >= 0.05)
    print(f"  by command (per job, background included): {top}")


if __name__ == "__main__":
    main()
