"""Partitioned vs unpartitioned khata, same data, same run.

    .venv/bin/python bench/scale.py --rows 10000000 --orders 2000000
    .venv/bin/python bench/scale.py --rows 2000000 --orders 400000     # quicker

Creates two databases on the server behind --url, both migrated to head; in one the ledger is then
swapped for a plain table with the same columns, indexes and triggers (the "unpartitioned" side).
Loads the same generated entries (36 months, Nepal time) and orders into both with COPY, then
measures p50/p99 of: balance lookup, last five entries, a recent month's statement, an old month's
statement, the dashboard's order list (each sample asks both sides the same, in alternating order,
once both are loaded), and the posting rate with `post_debit` from 4 threads;
finally the time of archiving the oldest month on the partitioned side.
Targets (issue #9): lookups p99 < 5 ms at 10M rows; partitioned no slower on recent data, faster on
month-bounded statements.
"""

from __future__ import annotations

import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchdb import database_url, recreate_database  # noqa: E402
from sqlalchemy import select  # noqa: E402

from db.migrate import upgrade  # noqa: E402
from db.models import Order  # noqa: E402
from db.partitions import NEPAL, add_months, month_start  # noqa: E402
from db.session import Database  # noqa: E402
from domain.archive import archive  # noqa: E402
from domain.ledger import balance, last_entries, post_debit  # noqa: E402
from domain.statements import statement_rows  # noqa: E402

MONTHS = 36
LIMIT = 10_000_000
CHUNK = 50_000
ROW_TYPE_FUNCTIONS = ("ledger_post", "ledger_newest")
PLAIN_SWAP = """
CREATE TABLE ledger_entries_plain (LIKE ledger_entries INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                                   INCLUDING INDEXES INCLUDING IDENTITY);
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_plain RENAME TO ledger_entries;
CREATE TRIGGER trg_ledger_entries_key_guard AFTER INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_key_guard();
CREATE TRIGGER trg_ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
CREATE TRIGGER trg_ledger_entries_no_delete BEFORE DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
"""


def _first_month(today: date) -> date:
    return add_months(month_start(today), -(MONTHS - 1))


def _load(url: str, rows: int, orders: int, retailers: int, wholesalers: int, seed: int, today: date) -> None:
    rnd = random.Random(seed)
    start = datetime.combine(_first_month(today), datetime.min.time(), tzinfo=NEPAL)
    span = (datetime.now(UTC) - start).total_seconds() - 3600
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        # A bulk load is a restore, not postings: triggers off for the COPY (the key table is filled
        # set-based afterwards), as pg_restore does.
        cur.execute("SET session_replication_role = replica")
        with cur.copy("COPY wholesalers (name, whatsapp_number) FROM STDIN") as cp:
            for i in range(wholesalers):
                cp.write_row((f"Wholesaler {i}", f"+977985{i:07d}"))
        with cur.copy("COPY retailers (name, whatsapp_number) FROM STDIN") as cp:
            for i in range(retailers):
                cp.write_row((f"Retailer {i}", f"+977984{i:07d}"))
        ostep = span / orders
        with (
            cur.copy(
                "COPY orders (ref, retailer_id, final_wholesaler_id, status, final_total, created_at) FROM STDIN"
            ) as cp,
            click.progressbar(length=orders, label="COPY orders        ", file=sys.stderr) as bar,
        ):
            buf: list[str] = []
            for k in range(orders):
                when = start + timedelta(seconds=k * ostep)
                recent = k > orders * 0.995
                status = (
                    rnd.choice(["PENDING_OFFERS", "CONFIRMED"])
                    if recent
                    else ("CANCELLED" if rnd.random() < 0.1 else "DELIVERED")
                )
                w = "\\N" if status in ("PENDING_OFFERS", "CANCELLED") else str(rnd.randint(1, wholesalers))
                buf.append(
                    f"TK-{k:07X}\t{rnd.randint(1, retailers)}\t{w}\t{status}\t{rnd.randint(500, 20000)}\t"
                    f"{when.isoformat()}\n"
                )
                if len(buf) == CHUNK:
                    cp.write("".join(buf))
                    bar.update(len(buf))
                    buf.clear()
            cp.write("".join(buf))
            bar.update(len(buf))
        balances = [0] * (retailers + 1)
        step = span / rows
        with (
            cur.copy(
                "COPY ledger_entries (id, entry_type, amount, retailer_id, wholesaler_id, description, "
                "idempotency_key, balance_after, created_at) FROM STDIN"
            ) as cp,
            click.progressbar(length=rows, label="COPY ledger_entries", file=sys.stderr) as bar,
        ):
            buf = []
            randint, rand = rnd.randint, rnd.random
            for k in range(rows):
                r = randint(1, retailers)
                bal = balances[r]
                amount = randint(500, 20000)
                if bal > 0 and (rand() < 0.3 or bal + amount > 1_000_000):
                    amount = min(amount, bal)
                    kind, bal = "CREDIT", bal - amount
                else:
                    kind, bal = "DEBIT", bal + amount
                balances[r] = bal
                when = (start + timedelta(seconds=k * step)).isoformat()
                buf.append(f"{k + 1}\t{kind}\t{amount}\t{r}\t{r % wholesalers + 1}\tbench\tbench:{k}\t{bal}\t{when}\n")
                if len(buf) == CHUNK:
                    cp.write("".join(buf))
                    bar.update(len(buf))
                    buf.clear()
            cp.write("".join(buf))
            bar.update(len(buf))
        with cur.copy("COPY credit_accounts (retailer_id, credit_limit, outstanding) FROM STDIN") as cp:
            for r in range(1, retailers + 1):
                cp.write_row((r, LIMIT, balances[r]))
        cur.execute(
            "INSERT INTO ledger_idempotency_keys (idempotency_key, entry_id, created_at) "
            "SELECT idempotency_key, id, created_at FROM ledger_entries"
        )
        cur.execute("SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), %s)", (rows,))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")  # the load's WAL flushed now, not during the timed lookups


def _pct(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000


def _lookups(
    dbs: dict[str, Database], retailers: int, samples: int, today: date, seed: int
) -> dict[str, dict[str, tuple[float, float]]]:
    """Each sample asks both sides the same thing, in alternating order, so drift on a shared box
    (writeback, autovacuum, the other tenant) falls on both alike."""
    last_month = add_months(month_start(today), -1)
    old_month = add_months(month_start(today), -(MONTHS - 4))

    def month_statement(m: date) -> Callable[[Any, int], object]:
        end = add_months(m, 1) - timedelta(days=1)
        return lambda s, r: statement_rows(s, r, m, end)

    cases: dict[str, Callable[[Any, int], object]] = {
        "balance": lambda s, r: balance(s, r),
        "last 5 entries": lambda s, r: last_entries(s, r, 5),
        "statement, last month": month_statement(last_month),
        "statement, 32 months ago": month_statement(old_month),
        "dashboard order list": lambda s, r: s.scalars(select(Order).order_by(Order.created_at.desc()).limit(50)).all(),
        "orders of one retailer": lambda s, r: s.scalars(
            select(Order).where(Order.retailer_id == r).order_by(Order.created_at.desc()).limit(20)
        ).all(),
    }
    out: dict[str, dict[str, tuple[float, float]]] = {side: {} for side in dbs}
    rnd = random.Random(seed)
    with ExitStack() as stack:
        sessions = {side: stack.enter_context(db.unit_of_work()).session for side, db in dbs.items()}
        for name, fn in cases.items():
            took: dict[str, list[float]] = {side: [] for side in dbs}
            for i in range(samples):
                r = rnd.randint(1, retailers)
                for side in list(dbs)[:: 1 if i % 2 else -1]:
                    t0 = time.perf_counter()
                    fn(sessions[side], r)
                    took[side].append(time.perf_counter() - t0)
                    sessions[side].rollback()
                    sessions[side].expunge_all()
            for side in dbs:
                out[side][name] = _pct(took[side])
    return out


def _post_rate(db: Database, retailers: int, threads: int, seconds: float, tag: str) -> float:
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def work(n: int) -> None:
        rnd = random.Random(n)
        while time.monotonic() < stop:
            with db.unit_of_work() as uow:
                post_debit(
                    uow.session,
                    retailer_id=rnd.randint(1, retailers),
                    amount=Decimal(rnd.randint(50, 500)),
                    idempotency_key=f"bench-post:{tag}:{n}:{counts[n]}",
                    description="bench order",
                )
                uow.commit()
                counts[n] += 1

    t0 = time.perf_counter()
    ts = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


@click.command()
@click.option("--url", default="postgresql://postgres@127.0.0.1:5432/postgres", show_default=True)
@click.option("--rows", default=10_000_000, show_default=True)
@click.option("--orders", default=2_000_000, show_default=True)
@click.option("--samples", default=300, show_default=True)
@click.option("--seconds", default=8.0, show_default=True, help="Posting-rate run per side.")
@click.option("--keep", is_flag=True, help="Keep the databases.")
@click.option("--seed", default=9, show_default=True)
def main(url: str, rows: int, orders: int, samples: int, seconds: float, keep: bool, seed: int) -> None:
    today = datetime.now(NEPAL).date()
    retailers, wholesalers = max(rows // 50, 100), 200
    names = {"partitioned": "thok_bench_scale_part", "unpartitioned": "thok_bench_scale_plain"}
    results: dict[str, dict[str, tuple[float, float]]] = {}
    rates: dict[str, float] = {}
    archive_seconds = 0.0
    try:
        for side, name in names.items():
            recreate_database(url, name)
            db_url = database_url(url, name)
            upgrade(db_url)
            with psycopg.connect(db_url) as conn:
                if side == "unpartitioned":
                    # These functions use the ledger's row type: set them aside across the swap.
                    kept = [
                        conn.execute("SELECT pg_get_functiondef(%s::regproc)", (f,)).fetchone()[0]  # type: ignore[index]
                        for f in ROW_TYPE_FUNCTIONS
                    ]
                    conn.execute(f"DROP FUNCTION {', '.join(ROW_TYPE_FUNCTIONS)}")
                    conn.execute(PLAIN_SWAP)
                    for definition in kept:
                        conn.execute(definition)
                else:  # production has had its months since they began; the default stays empty
                    for k in range(MONTHS):
                        conn.execute("SELECT ledger_ensure_partition(%s)", (add_months(_first_month(today), k),))
            t0 = time.perf_counter()
            _load(db_url, rows, orders, retailers, wholesalers, seed, today)
            click.echo(
                f"{side}: loaded {rows:,} entries and {orders:,} orders in {time.perf_counter() - t0:.0f}s", err=True
            )
        dbs = {side: Database(database_url(url, name)) for side, name in names.items()}
        try:
            _lookups(dbs, retailers, 30, today, seed)  # warm the caches alike
            results = _lookups(dbs, retailers, samples, today, seed + 1)
            for side, db in dbs.items():
                rates[side] = _post_rate(db, retailers, 4, seconds, side)
            t0 = time.perf_counter()
            res = archive(dbs["partitioned"].engine, before=add_months(_first_month(today), 1), today=today)
            archive_seconds = time.perf_counter() - t0
            click.echo(f"archive: {res.ledger_rows:,} entries, {res.orders:,} orders", err=True)
        finally:
            for db in dbs.values():
                db.dispose()
    finally:
        if not keep:
            for name in names.values():
                recreate_database(url, name, drop_only=True)
    click.echo(f"\n{rows:,} ledger entries over {MONTHS} months, {orders:,} orders, {retailers:,} retailers")
    click.echo(f"{'p50 / p99 ms':28} {'partitioned':>17} {'unpartitioned':>17} {'ratio p99':>10}")
    for case in results["partitioned"]:
        (p50, p99), (u50, u99) = results["partitioned"][case], results["unpartitioned"][case]
        click.echo(f"{case:28} {p50:7.2f} / {p99:7.2f} {u50:7.2f} / {u99:7.2f} {p99 / u99:10.2f}")
    click.echo(
        f"{'posting (post_debit/s)':28} {rates['partitioned']:17,.0f} {rates['unpartitioned']:17,.0f} "
        f"{rates['partitioned'] / rates['unpartitioned']:10.2f}"
    )
    click.echo(f"thok archive, oldest month (ledger + orders): {archive_seconds:.2f}s")


if __name__ == "__main__":
    main()
