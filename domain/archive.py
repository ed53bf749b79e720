"""`thok archive`: move whole closed months out of the hot tables, losing nothing.

Ledger: a month's partition is detached and attached, unchanged, under `archive.ledger_entries`
(same columns, same indexes, same monthly pruning; no foreign keys, as the rows they pointed at may
be archived too). It is metadata, not a copy: archiving a month of a million entries takes about
as long as counting them, which is what the manifest does. Before the detach, the month's count
and DEBIT/CREDIT sums go into `archive.manifest`, and per-account checkpoints (what the archived
months add up to, and the last archived balance) go into `ledger_checkpoints`; after it, the
archived table is counted and summed again and must match. Balances never read the archive
(`credit_accounts` holds them; `thok check` adds the checkpoints back), statements for archived
months read it.

Orders: closed orders (delivered, cancelled, expired or rejected: nothing will happen to them any
more) of a month whose ledger is archived, and that no hot ledger entry points at, are copied with
every row that references them (items, offers, reservations, audit rows, messages) into tables of
the same shape in `archive`, then deleted from the hot tables; counted before and after.

Each month is one transaction: a killed run rolls back that month and nothing else; a second run
finds the months already archived (the manifest) and does nothing. Archived tables refuse UPDATE,
DELETE and TRUNCATE (and the ledger archive refuses INSERT: it only grows by ATTACH).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from db.partitions import NEPAL, add_months, ensure_partitions, month_start, nepal_today, partition_name
from domain.errors import InvalidInput

CLOSED_ORDER_STATUSES = ("DELIVERED", "CANCELLED", "EXPIRED", "REJECTED")
SIGNED = "CASE WHEN entry_type = 'DEBIT' THEN amount ELSE -amount END"
log = logging.getLogger(__name__)


class ArchiveMismatch(RuntimeError):
    """Counts or sums differ between what was to be archived and what arrived: nothing moved."""


@dataclass
class ArchiveResult:
    ledger_months: list[date] = field(default_factory=list)
    ledger_rows: int = 0
    order_months: list[date] = field(default_factory=list)
    orders: int = 0


def default_before(today: date | None = None) -> date:
    """Older than two years, in whole months."""
    t = today or nepal_today()
    return month_start(t.replace(year=t.year - 2, day=1))


def _bounds(month: date) -> tuple[datetime, datetime]:
    lo = datetime(month.year, month.month, 1, tzinfo=NEPAL)
    hi_m = add_months(month, 1)
    return lo, datetime(hi_m.year, hi_m.month, 1, tzinfo=NEPAL)


def archived_until(conn: Connection) -> datetime | None:
    """Every ledger entry before this instant is in the archive (None: nothing archived)."""
    last = conn.execute(text("SELECT max(period) FROM archive.manifest WHERE kind = 'ledger'")).scalar()
    return _bounds(last)[1] if last else None


def hot_ledger_months(conn: Connection) -> list[date]:
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'public.ledger_entries'::regclass AND c.relname ~ '^ledger_entries_[0-9]{4}_[0-9]{2}$'"
        )
    ).scalars()
    return sorted(date(int(n[15:19]), int(n[20:22]), 1) for n in names)


# --- ledger --------------------------------------------------------------------------------------


def _manifest_numbers(conn: Connection, table: str) -> tuple[int, Decimal, Decimal]:
    row = conn.execute(
        text(
            f"SELECT count(*), coalesce(sum(amount) FILTER (WHERE entry_type = 'DEBIT'), 0), "
            f"coalesce(sum(amount) FILTER (WHERE entry_type = 'CREDIT'), 0) FROM {table}"
        )
    ).one()
    return int(row[0]), Decimal(row[1]), Decimal(row[2])


def _insert_checkpoints(conn: Connection, select_sql: str, params: Mapping[str, object]) -> None:
    conn.execute(text(f"CREATE TEMPORARY TABLE new_checkpoints ON COMMIT DROP AS {select_sql}"), params)
    conn.execute(
        text(
            "INSERT INTO ledger_checkpoints (retailer_id, wholesaler_id, as_of, net, balance_after, last_entry_id, "
            "entries) SELECT retailer_id, wholesaler_id, as_of, net, balance_after, last_entry_id, entries "
            "FROM new_checkpoints"
        )
    )
    conn.execute(text("DROP TABLE new_checkpoints"))


def archive_ledger_month(conn: Connection, month: date) -> int:
    """Archive one month's partition inside the caller's transaction; returns its row count."""
    part = partition_name(month)
    lo, hi = _bounds(month)
    # Nobody may post into (or archive) this month meanwhile; readers of other months go on.
    conn.execute(text(f"LOCK TABLE public.{part} IN SHARE MODE"))
    if conn.execute(text("SELECT 1 FROM archive.manifest WHERE kind = 'ledger' AND period = :m"), {"m": month}).first():
        raise ArchiveMismatch(f"{part} is hot but the manifest says it was archived; investigate before rerunning")
    rows, debits, credits = _manifest_numbers(conn, f"public.{part}")
    # Checkpoints carry each account forward: the previous one plus this month. Each set is built
    # in a temporary table first: an INSERT ... SELECT whose LATERAL reads ledger_checkpoints while
    # writing it re-read its own new pages per row (115 s for 150,000 accounts at 10M entries).
    params = {"as_of": hi}
    _insert_checkpoints(
        conn,
        f"""
        SELECT m.retailer_id, NULL::bigint AS wholesaler_id, CAST(:as_of AS timestamptz) AS as_of,
               COALESCE(p.net, 0) + m.net AS net, m.last_balance AS balance_after, m.last_id AS last_entry_id,
               COALESCE(p.entries, 0) + m.n AS entries
        FROM (SELECT retailer_id, SUM({SIGNED}) AS net, count(*) AS n, max(id) AS last_id,
                     (array_agg(balance_after ORDER BY id DESC))[1] AS last_balance
              FROM public.{part} GROUP BY retailer_id) m
        LEFT JOIN LATERAL (SELECT net, entries FROM ledger_checkpoints c
                           WHERE c.retailer_id = m.retailer_id AND c.wholesaler_id IS NULL
                           ORDER BY as_of DESC LIMIT 1) p ON true
        """,
        params,
    )
    _insert_checkpoints(
        conn,
        f"""
        SELECT m.retailer_id, m.wholesaler_id, CAST(:as_of AS timestamptz) AS as_of,
               COALESCE(p.net, 0) + m.net AS net, NULL::numeric AS balance_after, m.last_id AS last_entry_id,
               COALESCE(p.entries, 0) + m.n AS entries
        FROM (SELECT retailer_id, wholesaler_id, SUM({SIGNED}) AS net, count(*) AS n, max(id) AS last_id
              FROM public.{part} WHERE wholesaler_id IS NOT NULL GROUP BY retailer_id, wholesaler_id) m
        LEFT JOIN LATERAL (SELECT net, entries FROM ledger_checkpoints c
                           WHERE c.retailer_id = m.retailer_id AND c.wholesaler_id = m.wholesaler_id
                             AND c.as_of < :as_of
                           ORDER BY as_of DESC LIMIT 1) p ON true
        """,
        params,
    )
    # The new checkpoints must account for exactly this month's net, before anything is detached.
    moved = conn.execute(
        text(
            """
            SELECT coalesce(sum(c.net - coalesce(p.net, 0)), 0) FROM ledger_checkpoints c
            LEFT JOIN LATERAL (SELECT net FROM ledger_checkpoints q WHERE q.retailer_id = c.retailer_id
                               AND q.wholesaler_id IS NULL AND q.as_of < c.as_of ORDER BY as_of DESC LIMIT 1) p ON true
            WHERE c.as_of = :as_of AND c.wholesaler_id IS NULL
            """
        ),
        params,
    ).scalar()
    if moved != debits - credits:
        raise ArchiveMismatch(f"{part}: checkpoints move NPR {moved}, the month nets NPR {debits - credits}")
    conn.execute(
        text(
            "INSERT INTO archive.manifest (kind, period, table_name, row_count, debit_sum, credit_sum) "
            "VALUES ('ledger', :m, :t, :n, :d, :c)"
        ),
        {"m": month, "t": f"archive.{part}", "n": rows, "d": debits, "c": credits},
    )
    conn.execute(text(f"ALTER TABLE public.ledger_entries DETACH PARTITION public.{part}"))
    conn.execute(text(f"ALTER TABLE public.{part} SET SCHEMA archive"))
    for fk in conn.execute(
        text("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype = 'f'"),
        {"t": f"archive.{part}"},
    ).scalars():
        conn.execute(text(f'ALTER TABLE archive.{part} DROP CONSTRAINT "{fk}"'))
    # DDL takes no bind parameters; the bounds are our own datetimes.
    conn.execute(
        text(
            f"ALTER TABLE archive.ledger_entries ATTACH PARTITION archive.{part} "
            f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
        )
    )
    if _manifest_numbers(conn, f"archive.{part}") != (rows, debits, credits):
        raise ArchiveMismatch(f"archive.{part} does not match its manifest")
    return rows


# --- orders --------------------------------------------------------------------------------------


def _order_children(conn: Connection) -> list[tuple[str, str]]:
    """(table, column) of every foreign key into orders except the ledger's, children of other
    children first (stock_reservations before order_items), so deletes never trip a RESTRICT."""
    refs = conn.execute(
        text(
            """
            SELECT c.conrelid::regclass::text, a.attname
            FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.confrelid = 'public.orders'::regclass AND c.conparentid = 0
              AND c.conrelid <> 'public.ledger_entries'::regclass
            """
        )
    ).all()
    tables = {t for t, _ in refs}
    among = conn.execute(
        text(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid::regclass::text = ANY(:t) AND confrelid::regclass::text = ANY(:t)"
        ),
        {"t": list(tables)},
    ).all()
    depth = {t: 0 for t in tables}
    for _ in tables:  # longest chain of references among the children
        for src, dst in among:
            if src != dst:
                depth[src] = max(depth[src], depth[dst] + 1)
    return sorted(refs, key=lambda r: (-depth[r[0]], r[0]))


def _archive_table(conn: Connection, table: str) -> list[str]:
    """archive.<table> shaped like the hot one (columns added later are added here too); immutable."""
    conn.execute(
        text(f"CREATE TABLE IF NOT EXISTS archive.{table} (LIKE public.{table} INCLUDING DEFAULTS INCLUDING INDEXES)")
    )
    conn.execute(
        text(
            f"""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'archive.{table}'::regclass
                               AND tgname = 'trg_archive_append_only') THEN
                    CREATE TRIGGER trg_archive_append_only BEFORE UPDATE OR DELETE ON archive.{table}
                        FOR EACH ROW EXECUTE FUNCTION thok_append_only();
                    CREATE TRIGGER trg_archive_no_truncate BEFORE TRUNCATE ON archive.{table}
                        FOR EACH STATEMENT EXECUTE FUNCTION thok_append_only();
                END IF;
            END $$;
            """
        )
    )
    missing = conn.execute(
        text(
            """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
            WHERE a.attrelid = to_regclass(:hot) AND a.attnum > 0 AND NOT a.attisdropped
              AND NOT EXISTS (SELECT 1 FROM pg_attribute b WHERE b.attrelid = to_regclass(:arc)
                              AND b.attname = a.attname AND NOT b.attisdropped)
            """
        ),
        {"hot": f"public.{table}", "arc": f"archive.{table}"},
    ).all()
    for name, typ in missing:
        conn.execute(text(f'ALTER TABLE archive.{table} ADD COLUMN "{name}" {typ}'))
    return list(
        conn.execute(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum"
            ),
            {"t": f"public.{table}"},
        ).scalars()
    )


def _move(conn: Connection, table: str, column: str, ids: list[int]) -> int:
    cols = ", ".join(f'"{c}"' for c in _archive_table(conn, table))
    copied = conn.execute(
        text(f"INSERT INTO archive.{table} ({cols}) SELECT {cols} FROM public.{table} WHERE {column} = ANY(:ids)"),
        {"ids": ids},
    ).rowcount
    deleted = conn.execute(text(f"DELETE FROM public.{table} WHERE {column} = ANY(:ids)"), {"ids": ids}).rowcount
    if copied != deleted:
        raise ArchiveMismatch(f"{table}: copied {copied} rows but would delete {deleted}")
    return copied


def archive_orders_month(conn: Connection, month: date) -> int:
    lo, hi = _bounds(month)
    conn.execute(text("LOCK TABLE public.orders IN SHARE ROW EXCLUSIVE MODE"))  # no order changes meanwhile
    ids = list(
        conn.execute(
            text(
                """
                SELECT o.id FROM orders o
                WHERE o.created_at >= :lo AND o.created_at < :hi AND o.status::text = ANY(:closed)
                  AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.order_id = o.id)
                ORDER BY o.id
                """
            ),
            {"lo": lo, "hi": hi, "closed": list(CLOSED_ORDER_STATUSES)},
        ).scalars()
    )
    total = conn.execute(
        text("SELECT coalesce(sum(final_total), 0) FROM orders WHERE id = ANY(:ids)"), {"ids": ids}
    ).scalar()
    conn.execute(
        text(
            "INSERT INTO archive.manifest (kind, period, table_name, row_count, debit_sum) "
            "VALUES ('orders', :m, 'archive.orders', :n, :s)"
        ),
        {"m": month, "n": len(ids), "s": total},
    )
    if not ids:
        return 0
    for table, column in _order_children(conn):
        _move(conn, table, column, ids)
    moved = _move(conn, "orders", "id", ids)
    check = conn.execute(
        text("SELECT count(*), coalesce(sum(final_total), 0) FROM archive.orders WHERE id = ANY(:ids)"), {"ids": ids}
    ).one()
    if moved != len(ids) or tuple(check) != (len(ids), total):
        raise ArchiveMismatch(f"orders of {month:%Y-%m}: {tuple(check)} archived, expected {(len(ids), total)}")
    return moved


# --- the run -------------------------------------------------------------------------------------


def archive(
    engine: Engine,
    before: date | None = None,
    today: date | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> ArchiveResult:
    """Archive every whole month before `before` (default: older than two years). One transaction
    per month; rerunning is a no-op."""
    today = today or nepal_today()
    cutoff = month_start(before) if before else default_before(today)
    if cutoff > month_start(today):
        raise InvalidInput(f"cannot archive {cutoff:%Y-%m} or later: the current month is still open")
    result = ArchiveResult()
    with engine.begin() as conn:
        ensure_partitions(conn, today=today)  # rows the default partition caught get their month first
    with engine.connect() as conn:
        months = [m for m in hot_ledger_months(conn) if m < cutoff]
    for month in months:
        with engine.begin() as conn:
            n = archive_ledger_month(conn, month)
        result.ledger_months.append(month)
        result.ledger_rows += n
        progress(f"ledger {month:%Y-%m}: {n} entries archived")
    with engine.connect() as conn:
        first = conn.execute(
            text("SELECT min(created_at) FROM orders WHERE status::text = ANY(:c)"), {"c": list(CLOSED_ORDER_STATUSES)}
        ).scalar()
        done = set(conn.execute(text("SELECT period FROM archive.manifest WHERE kind = 'orders'")).scalars())
    month = month_start(first.astimezone(NEPAL).date()) if first else cutoff
    while month < cutoff:
        if month not in done:
            with engine.begin() as conn:
                n = archive_orders_month(conn, month)
            result.order_months.append(month)
            result.orders += n
            progress(f"orders {month:%Y-%m}: {n} orders archived")
        month = add_months(month, 1)
    return result
