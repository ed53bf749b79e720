"""Vocabulary as data (issue 14): payment methods in a table, and units and payment methods as
foreign keys to their tables instead of PostgreSQL enums.

- `payment_methods`: one row per way a payment reaches a wholesaler, with its English and Nepali
  labels, every spelling in the three scripts (the first is the word the parser reports), and
  `active` (an inactive method stays on old payments; new ones are refused). The rows are
  parsing/payment_methods.py's built-in table (tests/test_vocabulary.py holds them equal); frozen
  here as a migration must be.
- `retailer_payments.method` becomes text referencing `payment_methods.code`, and
  `products.unit`, `products.pack_unit`, `order_items.unit` text referencing `units.code`
  (migration 0010's table); the `payment_method` and `unit` enum types are dropped. A new unit or
  method is then a row (here, or in a later migration) and its row in the Python table: no
  ALTER TYPE, no enum to keep in step in db/models.py. The stored values do not change.
- An archived `archive.order_items` (`thok archive`) takes the same column type, so archiving keeps
  copying rows column for column.

The type change rewrites `retailer_payments`, `products` and `order_items` under an ACCESS
EXCLUSIVE lock (enum to text is not binary-compatible); run it in a quiet hour.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# code, English, Nepali, spellings (the first is the parser's word)
METHODS: list[tuple[str, str, str, str]] = [
    ("CASH", "Cash", "नगद", "cash nagad nagat कैश नगद क्यास"),
    ("ESEWA", "Esewa", "इसेवा", "esewa sewa इसेवा"),
    ("KHALTI", "Khalti", "खल्ती", "khalti खल्ती"),
    ("FONEPAY", "Fonepay", "फोनपे", "fonepay phonepay qr फोनपे"),
    ("BANK_TRANSFER", "Bank Transfer", "बैंक ट्रान्सफर",
     "bank bank_transfer bank-transfer banking ips connectips cips transfer cheque check बैंक बैङ्क"),
]  # fmt: skip
# (table, column, referred table): the columns that leave their enum for a foreign key
KEYS = [
    ("retailer_payments", "method", "payment_methods"),
    ("products", "unit", "units"),
    ("products", "pack_unit", "units"),
    ("order_items", "unit", "units"),
]
ENUMS = {
    "payment_method": ["CASH", "ESEWA", "KHALTI", "FONEPAY", "BANK_TRANSFER"],
    "unit": [
        "bora", "kg", "g", "litre", "carton", "packet", "piece", "dozen", "tray", "crate", "case", "box", "bottle",
        "ml", "quintal", "pathi", "mana", "dharni",
    ],
}  # fmt: skip
TYPE_OF = {"method": "payment_method", "unit": "unit", "pack_unit": "unit"}


def _archived_unit_columns() -> str:
    """ALTERs for archive tables that copied a `unit` column (archive.order_items once archived)."""
    return """
        DO $$ DECLARE c record; BEGIN
            FOR c IN SELECT a.attrelid::regclass::text AS t, a.attname FROM pg_attribute a
                     JOIN pg_class k ON k.oid = a.attrelid JOIN pg_namespace n ON n.oid = k.relnamespace
                     WHERE n.nspname = 'archive' AND a.attnum > 0 AND NOT a.attisdropped
                       AND a.atttypid = ANY (ARRAY[to_regtype('unit'), to_regtype('payment_method')]::oid[])
            LOOP
                EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE text', c.t, c.attname);
            END LOOP;
        END $$;
    """


def upgrade() -> None:
    op.create_table(
        "payment_methods",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("label_en", sa.Text, nullable=False),
        sa.Column("label_ne", sa.Text, nullable=False),
        sa.Column("spellings", ARRAY(sa.Text), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.CheckConstraint("cardinality(spellings) > 0", name="has_a_spelling"),
        sa.CheckConstraint("code ~ '^[A-Z][A-Z0-9_]*$'", name="code_format"),
    )
    methods = sa.table(
        "payment_methods",
        sa.column("code", sa.Text),
        sa.column("label_en", sa.Text),
        sa.column("label_ne", sa.Text),
        sa.column("spellings", ARRAY(sa.Text)),
    )
    op.bulk_insert(
        methods,
        [{"code": c, "label_en": en, "label_ne": ne, "spellings": words.split()} for c, en, ne, words in METHODS],
    )
    op.execute(_archived_unit_columns())
    for table, column, referred in KEYS:
        op.alter_column(table, column, type_=sa.Text, postgresql_using=f"{column}::text")
        op.create_foreign_key(f"fk_{table}_{column}_{referred}", table, referred, [column], ["code"])
        if table != "retailer_payments":  # (its method leads uq_retailer_payments_method_reference)
            op.create_index(f"ix_{table}_{column}", table, [column])  # thok db verify: every key has one
    op.execute("DROP TYPE payment_method")
    op.execute("DROP TYPE unit")


def downgrade() -> None:
    for name, values in ENUMS.items():
        op.execute(f"CREATE TYPE {name} AS ENUM ({', '.join(repr(v) for v in values)})")
    for table, column, referred in KEYS:
        op.drop_constraint(f"fk_{table}_{column}_{referred}", table, type_="foreignkey")
        if table != "retailer_payments":
            op.drop_index(f"ix_{table}_{column}", table)
        kind = TYPE_OF[column]
        op.alter_column(
            table, column, type_=sa.Enum(name=kind, create_type=False), postgresql_using=f"{column}::{kind}"
        )
    op.execute(
        """
        DO $$ DECLARE c record; BEGIN
            FOR c IN SELECT a.attrelid::regclass::text AS t, a.attname FROM pg_attribute a
                     JOIN pg_class k ON k.oid = a.attrelid JOIN pg_namespace n ON n.oid = k.relnamespace
                     WHERE n.nspname = 'archive' AND k.relname = 'order_items' AND a.attname = 'unit'
                       AND NOT a.attisdropped
            LOOP
                EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE unit USING %I::unit', c.t, c.attname, c.attname);
            END LOOP;
        END $$;
        """
    )
    op.drop_table("payment_methods")
