"""Credit holds: an order confirmed but not yet debited holds part of the retailer's credit.

`held` sits next to `outstanding` on both credit tables, and the limit CHECK covers the two
together (0 <= outstanding, 0 <= held, outstanding + held <= credit_limit). Two orders racing for
the last credit both run one conditional UPDATE on the same row; PostgreSQL serialises them and
the CHECK is the last guard, so the loser is refused by the database, not by luck.

Also an index on ledger_entries (retailer_id, id): entries are ordered by id (allocated while the
account row is locked, so it is the posting order; created_at is the transaction's start time and
can run backwards between two postings), and "last five entries" / "latest balance" must not sort
a retailer's whole history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREDIT_TABLES = ("credit_accounts", "retailer_wholesaler_credits")
NEW_CHECK = "outstanding >= 0 AND held >= 0 AND outstanding + held <= credit_limit"
OLD_CHECK = "outstanding >= 0 AND outstanding <= credit_limit"


def upgrade() -> None:
    for table in CREDIT_TABLES:
        op.add_column(
            table,
            sa.Column("held", sa.Numeric(precision=14, scale=2), server_default=sa.text("0"), nullable=False),
        )
        op.drop_constraint(op.f(f"ck_{table}_outstanding_within_limit"), table, type_="check")
        op.create_check_constraint(op.f(f"ck_{table}_outstanding_held_within_limit"), table, NEW_CHECK)
    op.create_index("ix_ledger_entries_retailer_id_id", "ledger_entries", ["retailer_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_retailer_id_id", table_name="ledger_entries")
    for table in CREDIT_TABLES:
        op.drop_constraint(op.f(f"ck_{table}_outstanding_held_within_limit"), table, type_="check")
        # Holds are not debts: dropping them leaves every row within the old, narrower CHECK.
        op.drop_column(table, "held")
        op.create_check_constraint(op.f(f"ck_{table}_outstanding_within_limit"), table, OLD_CHECK)
