"""The operational figures, read from PostgreSQL: what `thok stats` prints and the metrics expose.

Two costs, kept apart on purpose:
- `backlog`, `open_orders`: bounded by partial indexes on unfinished rows, cheap enough for every
  scrape (and they must be fresh when the workers are stuck);
- `orders_by_status`, `soft_deleted`, `index_usage`, `recent_messages`: whole-table work, run by the
  periodic job or on demand by a human.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection

from db.models import SOFT_DELETE_MODELS, InboundStatus, OrderStatus, OutboundStatus

BACKLOG_AGE = timedelta(minutes=1)  # "stored but not processed after a minute"


@dataclass(frozen=True)
class Backlog:
    messages: int  # inbound PENDING or QUEUED
    stale: int  # of those, received more than BACKLOG_AGE ago
    oldest_age_seconds: float


@dataclass(frozen=True)
class OpenOrders:
    count: int  # waiting for offers (no winner yet)
    oldest_age_seconds: float
    overdue: int  # window closed more than one more window ago: no winner within twice the window


@dataclass(frozen=True)
class IndexStat:
    table: str
    index: str
    unique: bool
    scans: int
    size_bytes: int
    bloat_ratio: float | None  # btree only: an estimate from the row count and key width


def backlog(conn: Connection) -> Backlog:
    # Served by ix_inbound_messages_status_received_at_open (status IN ('PENDING', 'QUEUED')).
    row = conn.execute(
        text(
            """
            SELECT count(*) AS messages,
                   count(*) FILTER (WHERE received_at < now() - make_interval(secs => :age)) AS stale,
                   coalesce(extract(epoch FROM now() - min(received_at)), 0) AS oldest
            FROM inbound_messages WHERE status IN ('PENDING', 'QUEUED')
            """
        ),
        {"age": BACKLOG_AGE.total_seconds()},
    ).one()
    return Backlog(int(row.messages), int(row.stale), float(row.oldest))


def open_orders(conn: Connection, offer_window_seconds: int) -> OpenOrders:
    # Served by ix_orders_offer_window_closes_at_open (PENDING_OFFERS, live rows only).
    row = conn.execute(
        text(
            """
            SELECT count(*) AS n,
                   coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest,
                   count(*) FILTER (WHERE offer_window_closes_at < now() - make_interval(secs => :window)) AS overdue
            FROM orders WHERE status = 'PENDING_OFFERS' AND deleted_at IS NULL
            """
        ),
        {"window": offer_window_seconds},
    ).one()
    return OpenOrders(int(row.n), float(row.oldest), int(row.overdue))


def orders_by_status(conn: Connection) -> dict[str, int]:
    counts = {status.value: 0 for status in OrderStatus}
    for status, n in conn.execute(text("SELECT status::text, count(*) FROM orders GROUP BY status")):
        counts[status] = int(n)
    return counts


def soft_deleted(conn: Connection) -> dict[str, int]:
    """Rows kept only for history, per table: a growing figure is storage the live queries skip."""
    tables = sorted(str(model.__tablename__) for model in SOFT_DELETE_MODELS)
    union = " UNION ALL ".join(
        f"SELECT '{t}' AS t, count(*) AS n FROM {t} WHERE deleted_at IS NOT NULL"  # names from our models
        for t in tables
    )
    return {t: int(n) for t, n in conn.execute(text(union))}


def recent_messages(conn: Connection, hours: int = 24) -> tuple[dict[str, int], dict[str, int]]:
    """Inbound and outbound messages of the last `hours`, by status."""
    since = {"hours": hours}
    inbound = {s.value: 0 for s in InboundStatus}
    outbound = {s.value: 0 for s in OutboundStatus}
    for status, n in conn.execute(
        text(
            "SELECT status::text, count(*) FROM inbound_messages "
            "WHERE received_at > now() - make_interval(hours => :hours) GROUP BY status"
        ),
        since,
    ):
        inbound[status] = int(n)
    for status, n in conn.execute(
        text(
            "SELECT status::text, count(*) FROM outbound_messages "
            "WHERE created_at > now() - make_interval(hours => :hours) GROUP BY status"
        ),
        since,
    ):
        outbound[status] = int(n)
    return inbound, outbound


def decisions(conn: Connection, hours: int = 24) -> dict[str, float]:
    """Orders decided and conflicts logged in the last `hours`, and the median time to a winner."""
    row = conn.execute(
        text(
            """
            SELECT count(*) AS decided,
                   coalesce(percentile_cont(0.5) WITHIN GROUP (
                       ORDER BY extract(epoch FROM decided_at - created_at)), 0) AS median_to_winner,
                   (SELECT count(*) FROM decision_conflict_logs
                    WHERE created_at > now() - make_interval(hours => :hours)) AS conflicts
            FROM orders WHERE decided_at > now() - make_interval(hours => :hours)
            """
        ),
        {"hours": hours},
    ).one()
    return {
        "decided": int(row.decided),
        "median_seconds_to_winner": float(row.median_to_winner),
        "conflicts": int(row.conflicts),
    }


# A btree leaf holds, per entry, an 8-byte IndexTupleData and a 4-byte line pointer plus the key
# (MAXALIGNed to 8); pages are 8 kB less 24 bytes of header and 16 of btree special space, filled
# to 90%. Expected pages from that, against the pages it really has, estimate the bloat (the
# usual catalog-only estimate: no pgstattuple extension needed, good to a few tens of percent).
_INDEXES = text(
    """
    SELECT t.relname AS table_name, c.relname AS index_name, i.indisunique AS is_unique,
           coalesce(s.idx_scan, 0) AS scans, pg_relation_size(c.oid) AS size_bytes,
           c.relpages, c.reltuples, am.amname,
           (SELECT coalesce(sum(coalesce(st.avg_width, 8)), 8)
            FROM pg_attribute a
            LEFT JOIN pg_stats st
              ON st.schemaname = n.nspname AND st.tablename = t.relname AND st.attname = a.attname
            WHERE a.attrelid = t.oid AND a.attnum > 0 AND a.attnum = ANY (i.indkey::int2[])) AS key_width
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_am am ON am.oid = c.relam
    LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
    WHERE n.nspname = current_schema() AND t.relname <> 'alembic_version'
    ORDER BY t.relname, c.relname
    """
)


def index_usage(conn: Connection) -> list[IndexStat]:
    stats = []
    for r in conn.execute(_INDEXES):
        bloat: float | None = None
        if r.amname == "btree":
            bloat = 0.0
            if r.reltuples > 0 and r.relpages > 1:
                entry = 12 + -(-float(r.key_width) // 8) * 8
                expected_pages = -(-float(r.reltuples) * entry // ((8192 - 40) * 0.9)) + 1
                bloat = max(0.0, 1 - expected_pages / float(r.relpages))
        stats.append(IndexStat(r.table_name, r.index_name, bool(r.is_unique), int(r.scans), int(r.size_bytes), bloat))
    return stats
