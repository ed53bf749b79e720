"""The khata at scale: load N ledger entries with COPY, then time what retailers and jobs do.

    .venv/bin/python bench/ledger_scale.py                  # 10 million entries
    .venv/bin/python bench/ledger_scale.py --rows 2000000   # quicker

Creates its own databases on the server behind --url (an admin URL; they are dropped afterwards
unless --keep), migrates, loads retailers and entries (secondary indexes are built after the COPY,
as a restore would), then measures p50/p99 of the balance lookup, the last five entries and one
month's statement through the domain functions, and the rate of posting DEBITs with `post_debit`
from several threads against pgbench's TPC-B on the same server in the same run.
Targets (issue #6): lookups p99 < 5 ms at 10M rows; posting >= 0.3 x pgbench's rate.
"""

from __future__ import annotations

import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchdb import database_url, recreate_database  # noqa: E402

from db.migrate import upgrade  # noqa: E402
from db.partitions import add_months, month_start  # noqa: E402
from db.session import Database  # noqa: E402
from domain.errors import CreditLimitExceeded  # noqa: E402
from domain.integrity import run_checks  # noqa: E402
from domain.ledger import balance, last_entries, post_debit  # noqa: E402
from domain.statements import statement_rows  # noqa: E402

START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 365
LIMIT = 10_000_000  # NPR; far above any generated balance, so posting is never refused
MAX_BALANCE = 1_000_000
CHUNK = 50_000


def _load(url: str, rows: int, retailers: int, wholesalers: int, seed: int) -> None:
    rnd = random.Random(seed)
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY wholesalers (name, whatsapp_number) FROM STDIN") as cp:
                for i in range(wholesalers):
                    cp.write_row((f"Wholesaler {i}", f"+977985{i:07d}"))
            with cur.copy("COPY retailers (name, whatsapp_number) FROM STDIN") as cp:
                for i in range(retailers):
                    cp.write_row((f"Retailer {i}", f"+977984{i:07d}"))
            lo, hi = cur.execute("SELECT min(id), max(id) FROM retailers").fetchone()  # type: ignore[misc]
            assert (lo, hi) == (1, retailers), "bench expects a fresh database"
            # The ledger is partitioned by Nepal month (migration 0003): make the months the data
            # covers, so rows land in their partitions and not in the DEFAULT one. Its indexes stay
            # during COPY (a partitioned parent's indexes cannot be dropped and rebuilt per table).
            month = month_start(START.date())
            while month <= month_start((START + timedelta(days=DAYS)).date()):
                cur.execute("SELECT ledger_ensure_partition(%s)", (month,))
                month = add_months(month, 1)
            index_defs: list[str] = []
            uniques: list[tuple[str, str]] = []
        conn.commit()

        balances = [0] * (retailers + 1)
        step = DAYS * 86400 / rows
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY ledger_entries (entry_type, amount, retailer_id, wholesaler_id, description, "
                "idempotency_key, balance_after, created_at) FROM STDIN"
            ) as cp,
            click.progressbar(length=rows, label="COPY ledger_entries", file=sys.stderr) as bar,
        ):
            randint, rand = rnd.randint, rnd.random
            buf: list[str] = []
            for k in range(rows):
                r = randint(1, retailers)
                bal = balances[r]
                amount = randint(500, 20000)
                if bal > 0 and (rand() < 0.3 or bal + amount > MAX_BALANCE):
                    amount = min(amount, bal)
                    kind, bal = "CREDIT", bal - amount
                    desc = "Payment (Esewa)"
                else:
                    kind, bal = "DEBIT", bal + amount
                    desc = f"Order TK-{k:06X}"
                balances[r] = bal
                when = (START + timedelta(seconds=k * step)).isoformat()
                buf.append(f"{kind}\t{amount}\t{r}\t{r % wholesalers + 1}\t{desc}\tbench:{k}\t{bal}\t{when}\n")
                if len(buf) == CHUNK:
                    cp.write("".join(buf))
                    bar.update(len(buf))
                    buf.clear()
            cp.write("".join(buf))
            bar.update(len(buf))
        copied = time.perf_counter() - started
        with (
            conn.cursor() as cur,
            cur.copy("COPY credit_accounts (retailer_id, credit_limit, outstanding) FROM STDIN") as cp,
        ):
            for r in range(1, retailers + 1):
                cp.write_row((r, LIMIT, balances[r]))
        conn.commit()
        click.echo(f"copied {rows:,} entries in {copied:.1f}s ({rows / copied:,.0f} rows/s)", err=True)

        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute("SET maintenance_work_mem = '256MB'")
            for d in index_defs:
                cur.execute(d)
            for name, definition in uniques:
                cur.execute(
                    sql.SQL("ALTER TABLE ledger_entries ADD CONSTRAINT {} ").format(sql.Identifier(name))
                    + sql.SQL(definition)  # type: ignore[arg-type]  # from pg_get_constraintdef
                )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")  # the load's WAL flushed now, not during the timed lookups
        click.echo(f"indexes and ANALYZE in {time.perf_counter() - started:.1f}s", err=True)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000


def _time_lookups(db: Database, retailers: int, samples: int, seed: int) -> dict[str, tuple[float, float]]:
    rnd = random.Random(seed + 1)
    days = [START.date() + timedelta(days=rnd.randint(0, DAYS - 31)) for _ in range(samples)]
    cases: dict[str, Callable[[Any, int, int], object]] = {
        "balance": lambda s, r, i: balance(s, r),
        "last 5 entries": lambda s, r, i: last_entries(s, r, 5),
        "1-month statement": lambda s, r, i: statement_rows(s, r, days[i], days[i] + timedelta(days=30)),
    }
    results = {}
    with db.unit_of_work() as uow:
        for name, fn in cases.items():
            took: list[float] = []
            for i in range(samples):
                r = rnd.randint(1, retailers)
                t0 = time.perf_counter()
                fn(uow.session, r, i)
                took.append(time.perf_counter() - t0)
                uow.session.rollback()  # no long transaction, no identity-map growth
                uow.session.expunge_all()
            results[name] = _percentiles(took)
    return results


def _post_rate(db: Database, retailers: int, threads: int, seconds: float) -> tuple[float, int]:
    counts = [0] * threads
    refused = [0] * threads
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        rnd = random.Random(n)
        while time.monotonic() < stop:
            with db.unit_of_work() as uow:
                try:
                    post_debit(
                        uow.session,
                        retailer_id=rnd.randint(1, retailers),
                        amount=Decimal(rnd.randint(50, 5000)),
                        idempotency_key=f"bench-post:{n}:{counts[n] + refused[n]}",
                        description="bench order",
                    )
                    uow.commit()
                    counts[n] += 1
                except CreditLimitExceeded:
                    refused[n] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - started), sum(refused)


def _pgbench(admin_url: str, name: str, clients: int, seconds: int, scale: int) -> float:
    exe = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    url = database_url(admin_url, name)
    recreate_database(admin_url, name)
    subprocess.run([exe, "-i", "-q", "-s", str(scale), url], check=True, capture_output=True)
    out = subprocess.run(
        [exe, "-c", str(clients), "-j", str(clients), "-T", str(seconds), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    m = re.search(r"tps = ([0-9.]+) \((without|excluding)", out)
    if not m:
        raise click.ClickException(f"cannot read pgbench's tps from:\n{out}")
    return float(m.group(1))


@click.command()
@click.option(
    "--url",
    default="postgresql://postgres@127.0.0.1:5432/postgres",
    show_default=True,
    help="Admin URL of the server to benchmark (databases are created on it).",
)
@click.option("--db", "db_name", default="thok_bench_ledger", show_default=True)
@click.option("--rows", default=10_000_000, show_default=True, type=int)
@click.option("--retailers", default=20_000, show_default=True, type=int)
@click.option("--wholesalers", default=200, show_default=True, type=int)
@click.option("--samples", default=1000, show_default=True, type=int, help="Timed calls per lookup kind.")
@click.option("--threads", default=4, show_default=True, type=int, help="Posting threads = pgbench clients.")
@click.option("--seconds", default=15, show_default=True, type=int, help="Duration of each throughput run.")
@click.option("--pgbench-scale", default=10, show_default=True, type=int)
@click.option("--seed", default=6, show_default=True, type=int)
@click.option("--keep", is_flag=True, help="Keep the bench databases.")
@click.option("--skip-check", is_flag=True, help="Do not time `thok check` over the loaded ledger.")
def main(
    url: str,
    db_name: str,
    rows: int,
    retailers: int,
    wholesalers: int,
    samples: int,
    threads: int,
    seconds: int,
    pgbench_scale: int,
    seed: int,
    keep: bool,
    skip_check: bool,
) -> None:
    target = database_url(url, db_name)
    recreate_database(url, db_name)
    upgrade(target)
    _load(target, rows, retailers, wholesalers, seed)
    db = Database(target, pool_size=threads + 1)
    try:
        lookups = _time_lookups(db, retailers, samples, seed)
        if not skip_check:
            t0 = time.perf_counter()
            with db.session() as s:
                problems = run_checks(s)
            click.echo(f"thok check over {rows:,} entries: {time.perf_counter() - t0:.1f}s, {len(problems)} problem(s)")
        posted, refused = _post_rate(db, retailers, threads, seconds)
    finally:
        db.dispose()
    tps = _pgbench(url, f"{db_name}_pgbench", threads, seconds, pgbench_scale)
    if not keep:
        recreate_database(url, db_name, drop_only=True)
        recreate_database(url, f"{db_name}_pgbench", drop_only=True)

    click.echo(f"\nledger_entries: {rows:,} rows, {retailers:,} retailers, {samples} samples per lookup")
    for name, (p50, p99) in lookups.items():
        verdict = "OK" if p99 < 5 else "over the 5 ms target"
        click.echo(f"  {name:<18} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   {verdict}")
    ratio = posted / tps if tps else 0.0
    click.echo(f"  post_debit         {posted:8.1f} /s  ({threads} threads, {seconds}s, {refused} refused)")
    click.echo(f"  pgbench TPC-B      {tps:8.1f} tps ({threads} clients, scale {pgbench_scale})")
    click.echo(f"  ratio              {ratio:8.2f}     {'OK' if ratio >= 0.3 else 'below the 0.3 target'}")


if __name__ == "__main__":
    main()
