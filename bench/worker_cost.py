"""What one order costs the workers, measured in one process with nothing else running in it.

    .venv/bin/python bench/worker_cost.py [--orders 300] [--warmup 30] [--redis redis://127.0.0.1:6379/7]
        [--url postgresql://postgres@127.0.0.1:5432/postgres] [--db-name thok_bench_worker_cost] [--calls 20]

`bench/orders_e2e.py` measures the whole pipeline, but on a shared 2-core machine its orders/s and
even its CPU per order move with the neighbours. This runs the two inbound jobs of an order (the
order text, then YES; the offer window is 0 s, so the YES's job also decides and sends) as plain
function calls, one after the other, and prints per order: this process's CPU (the jobs' Python,
`time.process_time`), the PostgreSQL backend's CPU (psutil), statements and commits (counted by
SQLAlchemy's events), and messages written. No RQ, gunicorn or HTTP: their share is the
difference to orders_e2e's figure. The same orders run twice, each after a warm-up, and both
rounds are printed, so a difference between two commits is a difference of the code, not of a
minute's load (the spread between the rounds says how much to trust it). `--calls N` then runs N
more orders counting the Python function calls they make (`sys.setprofile`): not CPU, but the same
from one run to the next whatever the neighbours do, so a change's effect shows even at load 5.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

import psutil
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from orders_e2e import MESSAGES, prepare  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--db-name", default="thok_bench_worker_cost")
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--calls", type=int, default=0, help="orders to count function calls over (0: none)")
    args = parser.parse_args()

    url, phones = prepare(args.url, 8, args.db_name)
    os.environ.update(
        {
            "DATABASE_URL": url,
            "REDIS_URL": args.redis,
            "THOK_DEV_MODE": "1",
            "SECRET_KEY": "bench",
            "OFFER_WINDOW_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
            "TWILIO_MAX_MPS": "100000",
        }
    )
    for name in [k for k in os.environ if k.startswith("TWILIO_") and k != "TWILIO_MAX_MPS"]:
        del os.environ[name]
    import redis as redis_lib

    redis_lib.Redis.from_url(args.redis).flushdb()

    from domain import messaging
    from thok.logging import configure_logging
    from workers.context import configure, get_services
    from workers.inbound import process_inbound

    configure_logging("WARNING")
    configure(None)
    services = get_services()
    counts = {"statements": 0, "commits": 0}

    @event.listens_for(services.database.engine, "before_cursor_execute")
    def _statement(*_: object) -> None:
        counts["statements"] += 1

    @event.listens_for(services.database.engine, "commit")
    def _commit(*_: object) -> None:
        counts["commits"] += 1

    def backends() -> list[psutil.Process]:
        with services.database.engine.connect() as conn:
            pids = conn.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND backend_type = 'client backend'"
            ).scalars()
            return [psutil.Process(pid) for pid in pids]

    def backend_cpu() -> float:
        total = 0.0
        for proc in backends():
            times = proc.cpu_times()
            total += times.user + times.system
        return total

    def order(phone: str, n: int) -> None:
        for body in (MESSAGES[n % len(MESSAGES)], "YES"):
            with services.database.autocommit() as conn:
                inbound_id = messaging.store_inbound(
                    conn, messaging.IncomingMessage(f"SMW{uuid.uuid4().hex}", phone, body, "+14155238886")
                )
            assert inbound_id is not None
            outcome = process_inbound(inbound_id)
            assert outcome.startswith("processed"), outcome

    def messages() -> int:
        with services.database.engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM outbound_messages").scalar_one())

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for round_ in (1, 2):
        for n in range(args.warmup):
            order(phones[n % len(phones)], n)
        before = (time.process_time(), backend_cpu(), dict(counts), messages(), time.perf_counter())
        for n in range(args.orders):
            order(phones[n % len(phones)], n)
        cpu, pg, seen, sent, wall = before
        cpu, pg = time.process_time() - cpu, backend_cpu() - pg
        wall = time.perf_counter() - wall
        per = {k: (counts[k] - seen[k]) / args.orders for k in counts}
        print(
            f"round {round_}: {args.orders} orders in {wall:.1f} s; per order:"
            f" jobs' CPU {cpu * 1000 / args.orders:.1f} ms,"
            f" PostgreSQL backend {pg * 1000 / args.orders:.1f} ms, {per['statements']:.1f} statements,"
            f" {per['commits']:.1f} commits, {(messages() - sent) / args.orders:.1f} messages"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.calls:
        calls = 0

        def count(frame: object, event: str, arg: object) -> None:
            nonlocal calls
            if event in ("call", "c_call"):
                calls += 1

        sys.setprofile(count)
        try:
            for n in range(args.calls):
                order(phones[n % len(phones)], n)
        finally:
            sys.setprofile(None)
        print(f"function calls per order: {calls / args.calls:.0f} (over {args.calls} orders)")
    services.database.dispose()


if __name__ == "__main__":
    main()
