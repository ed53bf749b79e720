"""Monthly partitions of the ledger: create ahead, list, and check.

Partitions are Nepal calendar months (00:00 Asia/Kathmandu), named `ledger_entries_YYYY_MM`, plus
`ledger_entries_default`. The DDL of record is the SQL function `ledger_ensure_partition(month)`
from migration 0003, run with the owner's rights since 0007 so the runtime role's worker may call it
(it also adds the TRUNCATE trigger PostgreSQL does not clone, and relocates rows
the default partition caught); this module decides *which* months and reports what is missing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Connection

NEPAL = ZoneInfo("Asia/Kathmandu")
MONTHS_AHEAD = 3  # the job keeps this many months beyond the current one
VERIFY_MONTHS_AHEAD = 2  # verify complains below this: one missed month of job runs still passes
PARTITION_NAME = re.compile(r"^ledger_entries_(\d{4}_\d{2}|default|default_relocating)$")
PARENT_ROW_TRIGGERS = ("trg_ledger_entries_key_guard", "trg_ledger_entries_no_update", "trg_ledger_entries_no_delete")
TRUNCATE_TRIGGER = "trg_ledger_entries_no_truncate"
log = logging.getLogger(__name__)


def is_partition_name(name: str) -> bool:
    """Partitions are created at run time, not declared in the models (see migrations/env.py)."""
    return bool(PARTITION_NAME.match(name))


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    y, m = divmod(month.year * 12 + month.month - 1 + n, 12)
    return date(y, m + 1, 1)


def partition_name(month: date) -> str:
    return f"ledger_entries_{month:%Y_%m}"


def nepal_today(now: datetime | None = None) -> date:
    return (now or datetime.now(NEPAL)).astimezone(NEPAL).date()


def ensure_month(conn: Connection, month: date) -> str | None:
    """Create one month's partition (relocating its rows from the default); None if it exists."""
    return conn.execute(text("SELECT ledger_ensure_partition(:m)"), {"m": month_start(month)}).scalar()


def ensure_partitions(conn: Connection, months_ahead: int = MONTHS_AHEAD, today: date | None = None) -> list[str]:
    """The current month through `months_ahead` ahead, plus any month the default partition caught.
    Idempotent; the caller commits."""
    first = month_start(today or nepal_today())
    months = [add_months(first, k) for k in range(months_ahead + 1)]
    # Through ledger_default_months() (migration 0007): the runtime role cannot read a partition.
    strays = conn.execute(text("SELECT month FROM ledger_default_months()")).scalars()
    months += [m for m in strays if m not in months]
    created = [name for name in (ensure_month(conn, m) for m in sorted(months)) if name]
    for name in created:
        log.info("created ledger partition %s", name)
    return created


@dataclass(frozen=True)
class Partition:
    name: str
    bounds: str  # pg_get_expr of the partition bound
    rows_estimate: int


def list_partitions(conn: Connection, parent: str = "public.ledger_entries") -> list[Partition]:
    rows = conn.execute(
        text(
            """
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = to_regclass(:p) ORDER BY c.relname
            """
        ),
        {"p": parent},
    ).all()
    return [Partition(n, b, max(int(t), 0)) for n, b, t in rows]


def partition_problems(conn: Connection, today: date | None = None) -> list[str]:
    """What `thok db verify` reports: a partition missing a trigger or an index of the parent, a
    missing future month, rows waiting in the default partition."""
    problems: list[str] = []
    parts = list_partitions(conn)
    names = {p.name for p in parts}
    if "ledger_entries_default" not in names:
        problems.append("ledger_entries: the default partition ledger_entries_default is missing")
    first = month_start(today or nepal_today())
    for k in range(VERIFY_MONTHS_AHEAD + 1):
        name = partition_name(add_months(first, k))
        if name not in names:
            problems.append(f"ledger_entries: partition {name} is missing (run `thok db partitions ensure`)")
    triggers = conn.execute(
        text(
            """
            SELECT c.relname, t.tgname FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'public.ledger_entries'::regclass
            WHERE NOT t.tgisinternal
            """
        )
    ).all()
    have = {(r, t) for r, t in triggers}
    parent_indexes = (
        conn.execute(
            text("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'public.ledger_entries'::regclass")
        )
        .scalars()
        .all()
    )
    attached = conn.execute(
        text(
            """
            SELECT pc.relname, ip.inhparent::regclass::text
            FROM pg_inherits ip JOIN pg_index x ON x.indexrelid = ip.inhrelid
            JOIN pg_class pc ON pc.oid = x.indrelid
            WHERE ip.inhparent IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'public.ledger_entries'::regclass)
            """
        )
    ).all()
    has_index = {(r, i) for r, i in attached}
    for p in parts:
        for trg in (*PARENT_ROW_TRIGGERS, TRUNCATE_TRIGGER):
            if (p.name, trg) not in have:
                problems.append(f"{p.name}: trigger {trg} is missing")
        for ix in parent_indexes:
            if (p.name, ix) not in has_index:
                problems.append(f"{p.name}: index of {ix} is missing")
    if "ledger_entries_default" in names:
        stray = conn.execute(text("SELECT coalesce(sum(entries), 0) FROM ledger_default_months()")).scalar()
        if stray:
            problems.append(
                f"ledger_entries_default holds {stray} rows: "
                "run `thok db partitions ensure` to give their months partitions"
            )
    return problems
