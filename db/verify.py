"""`thok db verify`: the seed's "verify constraints" query, checked against what Thok expects.

Expected names come from the models (the naming convention makes them predictable) plus the
triggers the migration installs; anything missing is reported and the command exits non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, UniqueConstraint, text
from sqlalchemy.engine import Connection

from db.models import LEDGER_TRIGGERS, Base
from db.partitions import list_partitions, partition_problems
from db.roles import definer_problems, runtime_role_problems

CRITICAL_TABLES = (
    "wholesaler_products",
    "credit_accounts",
    "retailer_wholesaler_credits",
    "ledger_entries",
    "ledger_idempotency_keys",
    "ledger_checkpoints",
    "orders",
    "vendor_offers",
    "stock_reservations",
    "retailers",
    "wholesalers",
    "party_phones",
)
EXPECTED_TRIGGERS = {
    "ledger_entries": (*LEDGER_TRIGGERS, "trg_ledger_entries_key_guard"),
    "ledger_idempotency_keys": (
        "trg_ledger_idempotency_keys_append_only",
        "trg_ledger_idempotency_keys_no_truncate",
    ),
    "ledger_checkpoints": ("trg_ledger_checkpoints_append_only", "trg_ledger_checkpoints_no_truncate"),
    "orders": ("trg_orders_winner_set_once",),
    # A balance row is born at zero (0006): only ledger_post() moves it afterwards.
    "credit_accounts": ("trg_credit_accounts_balance_starts_at_zero",),
    "retailer_wholesaler_credits": ("trg_retailer_wholesaler_credits_balance_starts_at_zero",),
    # One live party per WhatsApp number, across both party tables (0009).
    "retailers": ("retailers_phone_claim",),
    "wholesalers": ("wholesalers_phone_claim",),
}
# The khata's server-side functions: posting (0004, rights 0006), newest-first reads (0005), the
# partition maker and reader (0003, 0007), the balance and phone-claim guards (0006, 0009).
EXPECTED_FUNCTIONS = (
    "ledger_post",
    "ledger_newest",
    "ledger_entries_key_guard",
    "ledger_ensure_partition",
    "ledger_default_months",
    "credit_balance_starts_at_zero",
    "party_phone_claim",
)


@dataclass
class VerifyReport:
    lines: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing


def expected_names(table_name: str) -> set[str]:
    table = Base.metadata.tables[table_name]
    names: set[str] = set()
    for c in table.constraints:
        if isinstance(c, CheckConstraint | UniqueConstraint | ForeignKeyConstraint) and c.name:
            names.add(str(c.name))
    for ix in table.indexes:
        if isinstance(ix, Index) and ix.name:
            names.add(str(ix.name))
    return names


def _fk_without_index(conn: Connection) -> list[str]:
    """Foreign keys whose columns do not lead any index on the referencing table."""
    rows = conn.execute(
        text(
            """
            SELECT c.conrelid::regclass::text, c.conname
            FROM pg_constraint c
            WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
              AND NOT EXISTS (
                SELECT 1 FROM pg_index i
                WHERE i.indrelid = c.conrelid
                  AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] = c.conkey
              )
            ORDER BY 1, 2
            """
        )
    ).all()
    return [f"{t}.{n}" for t, n in rows]


def verify(conn: Connection, runtime_role: str | None = None) -> VerifyReport:
    """`runtime_role`: the role web and worker log in as; reported if it owns or can alter the
    ledger or a balance (db/roles.py). None: one role for everything (the demo), said so."""
    report = VerifyReport()
    for table_name in CRITICAL_TABLES:
        rows = conn.execute(
            text(
                "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = to_regclass(:t) ORDER BY contype, conname"
            ),
            {"t": table_name},
        ).all()
        idx = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = :t "
                "ORDER BY 1"
            ),
            {"t": table_name},
        ).all()
        trg = conn.execute(
            text(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE tgrelid = to_regclass(:t) AND NOT tgisinternal ORDER BY 1"
            ),
            {"t": table_name},
        ).all()
        report.lines.append(f"{table_name}:")
        report.lines += [f"  constraint {n} [{k}] {d}" for n, k, d in rows]
        report.lines += [f"  index {n}" for n, _ in idx]
        report.lines += [f"  trigger {n}" for n, _ in trg]
        present = {r[0] for r in rows} | {r[0] for r in idx}
        for name in sorted(expected_names(table_name) - present):
            report.missing.append(f"{table_name}: constraint or index {name} is missing")
        present_triggers = {r[0] for r in trg}
        for name in EXPECTED_TRIGGERS.get(table_name, ()):
            if name not in present_triggers:
                report.missing.append(f"{table_name}: trigger {name} is missing")
    present_functions = set(
        conn.execute(
            text("SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname = ANY(:f)"),
            {"f": list(EXPECTED_FUNCTIONS)},
        ).scalars()
    )
    report.lines.append("functions: " + ", ".join(sorted(present_functions)))
    for name in EXPECTED_FUNCTIONS:
        if name not in present_functions:
            report.missing.append(f"function {name}() is missing")
    report.missing += definer_problems(conn)
    if runtime_role is None:
        report.lines.append("runtime role: none set (THOK_RUNTIME_ROLE); web and worker run as the owner")
    else:
        report.lines.append(f"runtime role: {runtime_role}")
        report.missing += runtime_role_problems(conn, runtime_role)
    for fk in _fk_without_index(conn):
        report.missing.append(f"foreign key without an index: {fk}")
    # Every partition, present and future, must carry the parent's triggers and indexes.
    report.lines.append("ledger_entries partitions:")
    report.lines += [f"  partition {p.name} {p.bounds} (~{p.rows_estimate} rows)" for p in list_partitions(conn)]
    report.missing += partition_problems(conn)
    return report
