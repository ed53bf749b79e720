"""Orders end to end: placed through the webhook, decided by RQ workers, with pgbench's TPC-B on the
same PostgreSQL in the same run as the baseline.

    .venv/bin/python bench/orders_e2e.py [--orders 200] [--concurrency 8] [--reply-rate 50]
        [--reply-seconds 20] [--order-rate R] [--order-seconds 20]
        [--url postgresql://postgres@127.0.0.1:5432/postgres] [--redis redis://...]
        [--db-name thok_bench_orders] [--py-spy /tmp/prof] [--log-statements]

pgbench's TPC-B first, on its own database (the baseline), then three phases on one running app:

1. Orders (closed loop): each simulated retailer sends an order ("1 bora jeera masino"), waits for
   the summary, and answers YES. The offer window is 0 s, so the decision follows at once. Printed:
   decided orders per second (and their ratio to pgbench's tps), PostgreSQL commits per order
   (pg_stat_database's xact_commit delta, the client's own polls subtracted), CPU ms per order
   (psutil: gunicorn, the RQ workers, this database's PostgreSQL backends, and Redis's own
   used_cpu), and p50/p99 of the time from the retailer's YES (stored by the webhook) to the
   winner's notification leaving through the channel. A closed loop keeps the workers saturated, so
   that latency is mostly queueing: about retailers in flight / (2 messages x orders/s).
2. Orders at a set rate (open loop, `--order-rate`, default 0.01 of pgbench's tps: the target
   rate, for `--order-seconds`): a new order every 1/rate s whatever the replies' speed, each from a
   retailer with no order in flight; printed: YES -> winner notified p50/p99 at that rate.
3. Replies (open loop, `--reply-rate` messages/s for `--reply-seconds`): order texts and "hisab"
   from many retailers at a fixed rate, whatever the replies' speed; printed: p50/p99 from an
   inbound message's storing to its first reply leaving the outbox (`sent_at`), and the webhook's
   own p99 as the client saw it. `--reply-rate 0` skips it.

The app runs in dev mode with no Twilio credentials: messages go to the simulator channel, so the
figures measure Thok, not a network. Everything runs on this machine (2 cores here): the client,
gunicorn (2 workers), 2 RQ workers, PostgreSQL and Redis share the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from sqlalchemy import text

try:  # CPU per order is printed when psutil is there (it is in the test extras' environment)
    import psutil
except ImportError:  # pragma: no cover
    psutil = None

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchdb import recreate_database  # noqa: E402

from db.migrate import upgrade  # noqa: E402
from db.session import Database  # noqa: E402
from domain.parties import register_retailer  # noqa: E402
from thok.seed import seed_demo  # noqa: E402

PATH = "/webhooks/twilio/whatsapp"
MESSAGES = ["1 bora jeera masino", "2 kg masoor dal", "1 ctn wai wai", "1 litre dhara tel", "2 kg chini"]
REPLY_PHONES = 40  # retailers writing in the replies phase (spread, as real traffic is)


class CpuMeter:
    """CPU seconds of the processes that serve the bench: the given process trees (gunicorn, the
    RQ workers), this database's PostgreSQL backends (the client's own excluded) and Redis (its
    INFO cpu). PostgreSQL's shared background processes (WAL writer, checkpointer) serve every
    database on the server and are left out."""

    def __init__(self, roots: list[tuple[str, int]], url: str, redis_url: str, exclude: set[int]):
        self.roots, self.url, self.redis_url, self.exclude = roots, url, redis_url, exclude

    def _processes(self) -> list[tuple[str, psutil.Process]]:
        found: list[tuple[str, psutil.Process]] = []
        for group, pid in self.roots:
            try:
                root = psutil.Process(pid)
                found += [(group, p) for p in [root, *root.children(recursive=True)]]
            except psutil.NoSuchProcess:
                pass
        with psycopg.connect(self.url, autocommit=True) as db:
            me = db.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
            for (pid,) in db.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND backend_type = 'client backend'"
            ):
                if pid != me:  # the client's own backends (its polls) apart, reported as the client's
                    with contextlib.suppress(psutil.NoSuchProcess):
                        found.append(("client-pg" if pid in self.exclude else "postgres", psutil.Process(pid)))
        return found

    def sample(self) -> dict[tuple[str, str], float]:
        seconds: dict[tuple[str, str], float] = {}
        for group, proc in self._processes():
            try:
                times = proc.cpu_times()
                seconds[(group, f"{proc.pid}:{proc.create_time()}")] = times.user + times.system
            except psutil.NoSuchProcess:
                pass
        import redis

        info = redis.Redis.from_url(self.redis_url).info("cpu")
        seconds[("redis", "server")] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        return seconds

    @staticmethod
    def spent(before: dict[tuple[str, str], float], after: dict[tuple[str, str], float]) -> dict[str, float]:
        """Seconds between two samples by group; a process born in between counts from zero."""
        groups: dict[str, float] = {}
        for key, value in after.items():
            groups[key[0]] = groups.get(key[0], 0.0) + value - before.get(key, 0.0)
        return groups


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pgbench_tps(admin_url: str, seconds: int, name: str) -> float:
    """TPC-B on a freshly initialised database, after a checkpoint: the pipeline's phase leaves dirty
    buffers whose writing would otherwise fall inside pgbench's seconds (measured: 1,135 to 1,658
    tps from one run to the next without it)."""
    url = recreate_database(admin_url, name)
    pgbench = (
        "pgbench"
        if subprocess.run(["which", "pgbench"], capture_output=True).returncode == 0
        else ("/usr/lib/postgresql/15/bin/pgbench")
    )
    subprocess.run([pgbench, "-q", "-i", "-s", "10", url], check=True, capture_output=True)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("CHECKPOINT")
    run = [pgbench, "-c", "4", "-j", "2", "-T", str(seconds), url]
    out = subprocess.run(run, check=True, capture_output=True, text=True)
    match = re.search(r"tps = ([\d.]+)", out.stdout)
    assert match, out.stdout
    return float(match.group(1))


def prepare(admin_url: str, retailers: int, name: str) -> tuple[str, list[str]]:
    """The bench's database: the demo market and `retailers` bench retailers (the first ones order
    in phase 1, all of them write in phase 2)."""
    url = recreate_database(admin_url, name)
    upgrade(url)
    db = Database(url)
    phones = [f"+977984{5000000 + i:07d}" for i in range(retailers)]
    with db.unit_of_work() as uow:
        seed_demo(uow.session)
        for i, phone in enumerate(phones):
            register_retailer(
                uow.session, name=f"Bench {i}", phone=phone, district="Kathmandu", credit_limit=Decimal(10**8)
            )
        uow.session.execute(text("UPDATE wholesaler_products SET stock = 100000"))  # never the bottleneck here
        uow.commit()
    db.dispose()
    return url, phones


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument("--reply-rate", type=float, default=50, help="messages/s in phase 3 (0: skip it)")
    parser.add_argument(
        "--order-rate",
        type=float,
        default=None,
        help="orders/s offered in phase 2 (default: 0.01 of pgbench's tps, the target; 0: skip it)",
    )
    parser.add_argument("--order-seconds", type=float, default=20, help="how long phase 2 offers orders")
    parser.add_argument("--reply-seconds", type=float, default=20)
    parser.add_argument("--db-name", default="thok_bench_orders", help="the bench's own database (recreated)")
    parser.add_argument("--workers", type=int, default=2, help="`thok worker` processes")
    parser.add_argument(
        "--py-spy", metavar="PREFIX", help="record the RQ workers with py-spy (--gil, raw) into PREFIX-w<n>.txt"
    )
    parser.add_argument(
        "--log-statements", action="store_true", help="log every statement of the bench database (server log)"
    )
    args = parser.parse_args()

    # pgbench first, on its own database and a quiet server: its tps is the baseline, and 0.01 of it
    # the rate phase 2 offers.
    tps = pgbench_tps(args.url, args.pgbench_seconds, f"{args.db_name}_pgbench")
    print(f"pgbench TPC-B (scale 10, 4 clients): {tps:,.0f} tps")
    order_rate = 0.01 * tps if args.order_rate is None else args.order_rate
    url, phones = prepare(args.url, max(args.concurrency, REPLY_PHONES), args.db_name)
    if args.log_statements:  # to count statements per order: grep the server log for this database's
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {args.db_name} SET log_statement = 'all'")
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")},
        "DATABASE_URL": url,
        "REDIS_URL": args.redis,
        "THOK_DEV_MODE": "1",
        "SECRET_KEY": "bench",
        "OFFER_WINDOW_SECONDS": "0",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",  # one JSON line per request would drown the figures
        # Twilio's ~10 messages/s per sender caps a single number at ~1 order/s (about 8 messages
        # per order: invites, results, replies); lifted here to measure Thok itself.
        "TWILIO_MAX_MPS": "100000",
    }
    # The Procfile's web and worker commands, with their configuration (Prometheus multiprocess
    # metrics in a folder of this run's own).
    env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="thok-bench-metrics-")
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:thok.gunicorn_conf", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "bot.app:create_app()"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    workers = [
        subprocess.Popen([sys.executable, "-m", "thok", "worker"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        for _ in range(args.workers)
    ]
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.1)
        roots = [("gunicorn", web.pid), *(("workers", w.pid) for w in workers)]
        meter = CpuMeter(roots, url, args.redis, set()) if psutil else None
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        spy = ["py-spy", "record", "--gil", "--nonblocking", "-r", "200", "-f", "raw"]
        spies = [
            subprocess.Popen([*spy, "-o", f"{args.py_spy}-w{n}.txt", "-p", str(w.pid)], stdout=subprocess.DEVNULL)
            for n, w in enumerate(workers)
            if args.py_spy
        ]
        run(url, port, phones[: args.concurrency], args.orders, None, warmup=True)
        run(url, port, phones[: args.concurrency], args.orders, meter)
        for recorder in spies:
            recorder.send_signal(2)  # py-spy writes its file on SIGINT
        for recorder in spies:
            recorder.wait(timeout=60)
        if order_rate > 0:
            orders_at_rate(url, port, phones, order_rate, args.order_seconds)
        if args.reply_rate > 0:
            replies(url, port, phones, args.reply_rate, args.reply_seconds)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        for p in [web, *workers]:
            p.terminate()
        for p in [web, *workers]:
            p.wait(timeout=30)
        shutil.rmtree(env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    print(f"ratio decided orders/s / pgbench tps: {RESULT['rate'] / tps:.3f} (target >= 0.01)")


RESULT: dict[str, float] = {}


def post_message(conn: http.client.HTTPConnection, phone: str, body: str, sid: str) -> None:
    form = urlencode({"MessageSid": sid, "From": f"whatsapp:{phone}", "To": "whatsapp:+14155238886", "Body": body,
                      "NumMedia": "0"})  # fmt: skip
    conn.request("POST", PATH, body=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200, resp.status


def quantiles(values: list[float]) -> list[float]:
    return statistics.quantiles(values, n=100) if len(values) > 1 else [values[0]] * 99


class ReplyWatcher:
    """One thread and one connection watch for every retailer's awaited reply (one query per tick
    for all of them), so the client's polling costs the shared 2 cores little whatever the number
    of retailers; eight threads polling on their own took about 0.15 cores of the machine."""

    # One equality on the unique index per awaited message, whatever plan psycopg prepared while
    # the tables were still empty: `message_sid = ANY(%s)` kept a sequential scan's plan prepared
    # on the first ticks and cost 1.1 ms a call by the end (pg_stat_statements), more than any
    # statement of the pipeline itself.
    QUERY = (
        "SELECT s.sid, r.body FROM unnest(CAST(%s AS text[])) AS s(sid) CROSS JOIN LATERAL ("
        " SELECT o.body FROM inbound_messages i JOIN outbound_messages o ON o.in_reply_to_id = i.id"
        " WHERE i.message_sid = s.sid ORDER BY o.id LIMIT 1) AS r"
    )

    def __init__(self, url: str, tick: float = 0.005):
        self.db = psycopg.connect(url, autocommit=True)
        self.tick, self.polls = tick, 0
        self.lock = threading.Lock()
        self.waiting: dict[str, tuple[threading.Event, list[str]]] = {}
        self.stopped = False
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    @property
    def backend_pid(self) -> int:
        return int(self.db.info.backend_pid)

    def wait_for(self, sid: str, timeout: float = 120) -> str:
        """The reply to this very message (not a notice about an earlier order)."""
        event, found = threading.Event(), list[str]()
        with self.lock:
            self.waiting[sid] = (event, found)
        if not event.wait(timeout):
            raise SystemExit(f"no reply to {sid} within {timeout}s")
        return found[0]

    def _watch(self) -> None:
        while not self.stopped:
            with self.lock:
                sids = list(self.waiting)
            if sids:
                rows = self.db.execute(self.QUERY, (sids,)).fetchall()
                self.polls += 1
                with self.lock:
                    for sid, body in rows:
                        event, found = self.waiting.pop(sid)
                        found.append(str(body))
                        event.set()
            time.sleep(self.tick)

    def close(self) -> None:
        self.stopped = True
        self.thread.join()
        self.db.close()


def run(url: str, port: int, phones: list[str], orders: int, meter: CpuMeter | None, warmup: bool = False) -> None:
    """The closed loop. `warmup`: the same orders, one per retailer, nothing measured or printed:
    gunicorn's and the RQ workers' processes finish booting (imports, the app, connection pools,
    SQLAlchemy's compiled statements, the parser's catalog) before the measured orders start, so
    a process's start-up is not counted as the pipeline's cost (it was 10-12 ms of the 23 ms of
    gunicorn CPU per order printed for 300 orders)."""
    per_retailer = 1 if warmup else max(1, orders // len(phones))
    polls = [0]  # the client's own SELECTs commit too; subtracted from the server's count below
    sids = iter(range(10**9))
    lock = threading.Lock()
    watcher = ReplyWatcher(url)

    def post(conn: http.client.HTTPConnection, phone: str, body: str) -> str:
        with lock:
            sid = f"SM{next(sids):08d}{uuid.uuid4().hex[:24]}"
        post_message(conn, phone, body, sid)
        return sid

    def retailer(phone: str, index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for n in range(per_retailer):
            summary = watcher.wait_for(post(conn, phone, MESSAGES[(index + n) % len(MESSAGES)]))
            assert "Reply YES" in summary, summary
            placed = watcher.wait_for(post(conn, phone, "YES"))
            assert "is placed" in placed, placed

    with psycopg.connect(url, autocommit=True) as db:
        commits_before = db.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()[0]  # type: ignore[index]
        since, since_message = db.execute(
            "SELECT (SELECT coalesce(max(id), 0) FROM orders), (SELECT coalesce(max(id), 0) FROM outbound_messages)"
        ).fetchone()  # type: ignore[misc]
    if meter is not None:
        meter.exclude = {watcher.backend_pid}
    cpu_before: dict[tuple[str, str], float] = meter.sample() if meter is not None else {}
    client_before = time.process_time()  # this process: the simulated retailers and their polls
    start = time.perf_counter()
    threads = [threading.Thread(target=retailer, args=(p, i)) for i, p in enumerate(phones)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    watcher.close()
    polls[0] += watcher.polls
    total = per_retailer * len(phones)
    with psycopg.connect(url, autocommit=True) as db:
        while True:  # until every order is decided and its winner told
            row = db.execute(
                "SELECT count(*) FILTER (WHERE status <> 'PENDING_OFFERS'), count(*) FROM orders WHERE id > %s",
                (since,),
            ).fetchone()
            told = db.execute(
                "SELECT count(*) FROM outbound_messages "
                "WHERE idempotency_key LIKE 'notice:won:%%' AND sent_at IS NOT NULL AND order_id > %s",
                (since,),
            ).fetchone()[0]  # type: ignore[index]
            polls[0] += 2
            if row and row[1] == total and row[0] == total and told >= row[0]:
                break
            if time.perf_counter() - start > 600:
                raise SystemExit(f"not all orders decided: {row}, told {told}")
            time.sleep(0.05)
        if warmup:
            return
        elapsed = time.perf_counter() - start
        cpu = meter.spent(cpu_before, meter.sample()) if meter is not None else None
        client_cpu = time.process_time() - client_before
        latencies = yes_to_winner(db, since)
        won = db.execute(
            "SELECT count(*) FROM orders WHERE final_wholesaler_id IS NOT NULL AND id > %s", (since,)
        ).fetchone()[0]  # type: ignore[index]
        commits = db.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetchone()[
            0
        ]  # type: ignore[index]
        messages = db.execute("SELECT count(*) FROM outbound_messages WHERE id > %s", (since_message,)).fetchone()[0]  # type: ignore[index]
    rate = total / elapsed
    RESULT["rate"] = rate
    q = quantiles(latencies)
    print(f"orders: {total} placed and decided ({won} with a winner) in {elapsed:.1f} s by {len(phones)} retailers")
    print(f"end to end: {rate:.1f} orders/s (each: 2 webhook posts, 2 inbound jobs, 1 decision, its sends)")
    commits = commits - polls[0] - 2  # minus the client's polls and its own two counting reads
    commits_per_order = (commits - commits_before) / total
    print(
        f"per order: {commits_per_order:.0f} PostgreSQL commits, {messages / total:.1f} WhatsApp messages"
        f" -> {(commits - commits_before) / elapsed:,.0f} commits/s (compare with pgbench's tps above)"
    )
    if cpu is not None:
        client_cpu += cpu.pop("client-pg", 0.0)
        busy = sum(cpu.values())
        split = ", ".join(f"{group} {seconds * 1000 / total:.0f}" for group, seconds in sorted(cpu.items()))
        print(f"CPU: {busy * 1000 / total:.0f} ms per order ({split}; {busy / elapsed:.2f} cores busy)")
        print(
            f"     the bench's own client (and its PostgreSQL backend): {client_cpu * 1000 / total:.0f} ms per order"
            f" ({client_cpu / elapsed:.2f} cores; not counted above)"
        )
    print(
        f"YES -> winner notified: p50 {q[49] * 1000:.0f} ms   p99 {q[98] * 1000:.0f} ms"
        f"   (window 0 s; closed loop, {len(phones)} retailers in flight)"
    )


def yes_to_winner(db: psycopg.Connection, since_order_id: int = 0) -> list[float]:
    """Seconds from each order's YES (stored by the webhook) to its winner's notice leaving."""
    return [
        float(r[0])
        for r in db.execute(
            """
            SELECT extract(epoch FROM w.sent_at - i.received_at)
            FROM orders o
            JOIN outbound_messages w ON w.order_id = o.id AND w.idempotency_key LIKE 'notice:won:%%'
            JOIN LATERAL (
                SELECT received_at FROM inbound_messages
                WHERE retailer_id = o.retailer_id AND upper(body) = 'YES' AND received_at <= o.created_at
                ORDER BY received_at DESC LIMIT 1
            ) i ON true
            WHERE o.id > %s
            """,
            (since_order_id,),
        )
    ]


def orders_at_rate(url: str, port: int, phones: list[str], rate: float, seconds: float) -> None:
    """Open loop: a new order every 1/rate s whatever the pipeline's speed (an order: its text, the
    summary awaited, YES), each from a retailer with no order in flight; then YES -> winner notified
    at that rate. Past the pipeline's capacity the backlog grows and so does the latency printed."""
    count = max(1, int(rate * seconds))
    watcher = ReplyWatcher(url)
    free: list[str] = list(phones)
    lock = threading.Lock()
    late = [0]  # orders that found no retailer free on time (each retailer: one order in flight)
    with psycopg.connect(url, autocommit=True) as db:
        since = db.execute("SELECT coalesce(max(id), 0) FROM orders").fetchone()[0]  # type: ignore[index]

    def one_order(n: int) -> None:
        while True:
            with lock:
                phone = free.pop(0) if free else None
            if phone is not None:
                break
            late[0] += 1
            time.sleep(0.01)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        sid = f"SMO{n:08d}{uuid.uuid4().hex[:23]}"
        post_message(conn, phone, MESSAGES[n % len(MESSAGES)], sid)
        summary = watcher.wait_for(sid)
        assert "Reply YES" in summary, summary
        yes = f"SMY{n:08d}{uuid.uuid4().hex[:23]}"
        post_message(conn, phone, "YES", yes)
        assert "is placed" in watcher.wait_for(yes)
        conn.close()
        with lock:
            free.append(phone)

    start = time.perf_counter() + 0.2
    threads = []
    for n in range(count):
        pause = start + n / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        thread = threading.Thread(target=one_order, args=(n,))
        thread.start()
        threads.append(thread)
    offered_for = time.perf_counter() - start
    for thread in threads:
        thread.join()
    watcher.close()
    deadline = time.monotonic() + 300
    with psycopg.connect(url, autocommit=True) as db:
        while True:  # every winner told
            latencies = yes_to_winner(db, since)
            if len(latencies) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        # Decided at the rate offered? The phase's orders over the span from its first message
        # stored to its last winner told.
        span = db.execute(
            "SELECT extract(epoch FROM max(w.sent_at) - (SELECT min(received_at) FROM inbound_messages"
            " WHERE message_sid LIKE 'SMO%%'))"
            " FROM orders o JOIN outbound_messages w ON w.order_id = o.id AND w.idempotency_key LIKE 'notice:won:%%'"
            " WHERE o.id > %s",
            (since,),
        ).fetchone()[0]  # type: ignore[index]
    q = quantiles(latencies)
    print(
        f"orders at a set rate: {count} offered at {count / offered_for:.1f}/s from {len(phones)} retailers"
        f"{f' ({late[0]} waits for a free retailer)' if late[0] else ''}; {len(latencies)} decided and told,"
        f" {len(latencies) / float(span):.1f}/s from the first order stored to the last winner told"
    )
    print(f"     YES -> winner notified p50 {q[49] * 1000:.0f} ms  p99 {q[98] * 1000:.0f} ms (target p99 <= 250 ms)")


def replies(url: str, port: int, phones: list[str], rate: float, seconds: float) -> None:
    """Open loop: messages at `rate`/s whatever the replies' speed, then inbound -> first reply sent."""
    count = int(rate * seconds)
    bodies = [*MESSAGES, "hisab"]
    senders = 16
    sids: list[str] = []
    webhook: list[float] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.5

    def sender(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for n in range(k, count, senders):
            due = start + n / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            sid = f"SMR{n:08d}{uuid.uuid4().hex[:23]}"
            began = time.perf_counter()
            post_message(conn, phones[n % len(phones)], bodies[(n // len(phones)) % len(bodies)], sid)
            with lock:
                webhook.append(time.perf_counter() - began)
                sids.append(sid)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent_for = time.perf_counter() - start
    deadline = time.monotonic() + 300
    with psycopg.connect(url, autocommit=True) as db:
        query = """
            SELECT extract(epoch FROM min(o.sent_at) - i.received_at)
            FROM inbound_messages i JOIN outbound_messages o ON o.in_reply_to_id = i.id
            WHERE i.message_sid = ANY(%s) AND o.sent_at IS NOT NULL
            GROUP BY i.id
        """
        while True:
            latencies = [float(r[0]) for r in db.execute(query, (sids,))]
            if len(latencies) >= len(sids):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"replies: only {len(latencies)} of {len(sids)} answered within 300 s")
            time.sleep(0.2)
    q, w = quantiles(latencies), quantiles(webhook)
    print(
        f"replies: {len(sids)} messages at {len(sids) / sent_for:.1f}/s from {len(phones)} retailers;"
        f" inbound -> reply sent p50 {q[49] * 1000:.0f} ms  p99 {q[98] * 1000:.0f} ms;"
        f" webhook p99 {w[98] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
