"""Running Thok: `seed`, `stats`, `worker`, `demo`."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping

import click

from domain.errors import DomainError
from thok.cli.app import _database, _settings, main
from thok.config import WORKER_NEEDS, ConfigError

# --- the demo market -----------------------------------------------------------------------------


@main.command("seed")
@click.option("--demo", is_flag=True, required=True, help="Seed the demo market (idempotent).")
def seed_cmd(demo: bool) -> None:
    """Seed the demo catalog, wholesalers, retailers and admin."""
    from thok.seed import seed_demo

    try:
        with _database().unit_of_work() as uow:
            result = seed_demo(uow.session, history=True)
            uow.commit()
    except DomainError as exc:  # e.g. a demo number another party already holds: say which
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"seeded: {result.products} products, {result.wholesalers} wholesalers, {result.price_rows} price rows, "
        f"{result.retailers} retailers{', 1 admin' if result.admin_created else ''}, "
        f"{result.orders} orders and {result.payments} payments of history"
    )


# --- operations ----------------------------------------------------------------------------------


@main.command("stats")
@click.option("--hours", default=24, show_default=True, type=int, help="Window for message and decision figures.")
def stats_cmd(hours: int) -> None:
    """The key operating figures (what /metrics exposes), for a terminal without Prometheus."""
    from redis.exceptions import RedisError

    from domain import stats
    from thok import runtime

    settings = _settings()
    # Read-only: the replica when DATABASE_REPLICA_URL is set and it answers (index scans there
    # count the replica's own reads), else the primary.
    with _database().read_session() as session:
        conn = session.connection()
        backlog = stats.backlog(conn)
        open_orders = stats.open_orders(conn, settings.offer_window_seconds)
        orders = stats.orders_by_status(conn)
        inbound, outbound = stats.recent_messages(conn, hours)
        decided = stats.decisions(conn, hours)
        deleted = stats.soft_deleted(conn)
        indexes = stats.index_usage(conn)

    def row(label: str, figures: Mapping[str, object]) -> None:
        click.echo(f"{label:<18}" + "  ".join(f"{k.lower()} {v}" for k, v in figures.items()))

    row("orders", {k: v for k, v in orders.items() if v} or {"none": 0})
    row(
        "waiting offers",
        {
            "open": open_orders.count,
            "oldest": f"{open_orders.oldest_age_seconds:.0f}s",
            "overdue (2x window)": open_orders.overdue,
        },
    )
    row(
        f"decisions {hours}h",
        {
            "decided": decided["decided"],
            "conflicts": decided["conflicts"],
            "median to winner": f"{decided['median_seconds_to_winner']:.0f}s",
        },
    )
    row(f"inbound {hours}h", {k: v for k, v in inbound.items() if v} or {"none": 0})
    row(f"outbound {hours}h", {k: v for k, v in outbound.items() if v} or {"none": 0})
    row(
        "inbound backlog",
        {"unprocessed": backlog.messages, "over 1 min": backlog.stale, "oldest": f"{backlog.oldest_age_seconds:.0f}s"},
    )
    try:
        from workers.runner import QUEUES

        redis = runtime.redis_for(settings)
        row("queues", {q: redis.llen(f"rq:queue:{q}") for q in QUEUES})
        row("failed jobs", {q: redis.zcard(f"rq:failed:{q}") for q in QUEUES})
    except RedisError as exc:
        row("queues", {"redis unreachable": type(exc).__name__})
    row("soft-deleted", deleted)
    unused = [ix for ix in indexes if not ix.unique and ix.scans == 0]
    bloated = [ix for ix in indexes if (ix.bloat_ratio or 0) > 0.5 and ix.size_bytes > 10 * 2**20]
    row("indexes", {"total": len(indexes), "never scanned (non-unique)": len(unused), "bloated >50%": len(bloated)})
    for ix in bloated:
        click.echo(f"  bloated: {ix.index} on {ix.table}, {ix.size_bytes / 2**20:.0f} MiB, ~{ix.bloat_ratio:.0%} dead")


# --- processes -----------------------------------------------------------------------------------


@main.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
def worker_cmd(burst: bool) -> None:
    """Run an RQ worker with the scheduler (offer windows, retries, sweeps)."""
    import shutil

    from thok.config import metrics_dir_for
    from thok.logging import configure_logging

    settings = _settings()
    try:
        settings.require_production(WORKER_NEEDS)  # no Twilio: replies would go to the simulator
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_level, settings.log_format)
    # Before thok.metrics is first imported (workers.runner imports it): this worker and its
    # work-horses share one multiprocess folder of their own, served on WORKER_METRICS_PORT.
    metrics_dir = metrics_dir_for(settings, f"worker-{os.getpid()}")
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    from thok import metrics
    from workers.runner import run_worker

    metrics.track_work_horses()
    try:
        run_worker(settings, burst=burst)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def demo_cmd(host: str, port: int) -> None:
    """Migrate, seed if empty, and run web + worker on the embedded default (dev mode)."""
    from db.migrate import upgrade
    from thok import runtime
    from thok.seed import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, is_empty, seed_demo

    os.environ["THOK_DEV_MODE"] = "1"
    os.environ.setdefault("SECRET_KEY", secrets.token_hex(32))
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if not (os.environ.get("KHALTI_SECRET_KEY") or os.environ.get("ESEWA_SECRET_KEY")):
        # No gateway of your own: the pretend Khalti in this same app (bot/demo_gateway.py), so
        # "pay" in the simulator opens a page with Pay / Cancel and the khata drops once.
        from bot.demo_gateway import DEMO_KHALTI_KEY, PREFIX

        os.environ.update(THOK_DEMO_GATEWAY="1", KHALTI_SECRET_KEY=DEMO_KHALTI_KEY, KHALTI_BASE_URL=f"{base}{PREFIX}")
        os.environ.setdefault("PUBLIC_BASE_URL", base)
    runtime.settings.cache_clear()
    settings = _settings()
    click.echo(f"PostgreSQL: {settings.database_url}\nRedis:      {settings.redis_url}")
    upgrade(settings.database_url)
    database = runtime.database_for(settings)
    with database.unit_of_work() as uow:
        if is_empty(uow.session):
            result = seed_demo(uow.session, settings, history=True)
            uow.commit()
            click.echo(
                f"seeded the demo market: {result.products} products, {result.wholesalers} wholesalers, "
                f"{result.orders} orders and {result.payments} payments over the last four weeks"
            )
    database.dispose()

    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:thok.gunicorn_conf",  # Prometheus multiprocess folder and hooks
            "-w",
            "2",
            "-b",
            f"{host}:{port}",
            "bot.app:create_app()",
        ],
        env=env,
    )
    worker = subprocess.Popen([sys.executable, "-m", "thok", "worker"], env=env)
    pay_line = (
        f"  Pay         a pretend Khalti at {settings.khalti_base_url} (send 'pay' in the simulator)\n"
        if settings.demo_gateway
        else ""
    )
    click.echo(
        f"\nThok demo is running (dev mode: Twilio signatures are not checked).\n"
        f"  Home        {base}/\n  Simulator   {base}/simulator\n  Dashboard   {base}/dashboard/"
        f"  (login {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD})\n  Health      {base}/healthz  {base}/readyz\n"
        f"  Metrics     {base}/metrics  (worker: http://{settings.worker_metrics_addr}:{settings.worker_metrics_port}"
        "/metrics)\n"
        f"{pay_line}Press Ctrl-C to stop."
    )
    children = [web, worker]

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for child in children:
            child.wait(timeout=20)
    failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    if failed:
        raise SystemExit(1)
