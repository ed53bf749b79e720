"""Units of measure as data: spellings and conversions (issue 16).

- The `unit` enum gains the traditional Nepali measures and ml: `quintal`, `pathi`, `mana`,
  `dharni`, `ml` (ALTER TYPE ... ADD VALUE; the values are not used in this transaction).
- `units`: one row per unit code with its English and Nepali names, every spelling in the three
  scripts (`bag` is a spelling of `bora`), and its relation to another unit: `factor` of `base`
  in one (1 quintal = 100 kg, 1 pathi = 8 mana); `approximate` when it depends on what is measured
  (1 mana of rice is about 0.5625 kg, so a pathi about 4.5 kg; a dharni about 2.4 kg). The rows
  are the parser's built-in table, parsing/units.py (tests/test_parser_units.py holds them
  equal); frozen here as a migration must be.
- `products.pack_size` / `pack_unit`: how much one of the product's unit holds ("Surf Excel (1kg)"
  is 1 kg a packet, a 25 kg bora of rice), so 5 kg of a 1 kg packet product is 5 packets. Backfilled
  from the product names that state it; NULL where they do not (then only exact unit relations
  convert, and anything else is asked back).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_CODES = ("ml", "quintal", "pathi", "mana", "dharni")

# code, English, Nepali, spellings, base, factor, approximate
UNITS: list[tuple[str, str, str, str, str | None, str | None, bool]] = [
    ("bora", "sack", "बोरा", "bora boraa boras bori boris bories bora's sack sacks bag bags bagg borá बोरा बोरी बोरि", None, None, False),
    ("kg", "kg", "केजी", "kg kgs kilo kilos kilogram kilograms kilogramme kgms keji kiloo केजी किलो किलोग्राम केजि", None, None, False),
    ("g", "gram", "ग्राम", "g gm gms gram grams gramme grammes gr grm ग्राम", "kg", "0.001", False),
    ("quintal", "quintal", "क्विन्टल", "quintal quintals quintl kwintal kuintal kintal क्विन्टल क्वीन्टल क्विंटल", "kg", "100", False),
    ("litre", "litre", "लिटर", "litre litres liter liters ltr ltrs lt l lit litar liter's लिटर लि", None, None, False),
    ("ml", "ml", "एमएल", "ml mls millilitre milliliter एमएल मिलि", "litre", "0.001", False),
    ("carton", "carton", "कार्टुन", "carton cartons ctn ctns cartoon cartoons kartun cartun cartan कार्टुन कार्टून कार्टन", None, None, False),
    ("packet", "packet", "प्याकेट", "packet packets pkt pkts pack packs pckt pkg paket pyaket pyakat poka pokaa pokas प्याकेट पोका प्याकट", None, None, False),
    ("piece", "piece", "वटा", "piece pieces pcs pc pis wata ota ta gota nos वटा ओटा गोटा टा", None, None, False),
    ("dozen", "dozen", "दर्जन", "dozen dozens darjan darjen dz doz dozn दर्जन", "piece", "12", False),
    ("tray", "tray", "ट्रे", "tray trays trey tre ट्रे", None, None, False),
    ("crate", "crate", "क्रेट", "crate crates kret krate क्रेट", None, None, False),
    ("case", "case", "केस", "case cases kes केस", None, None, False),
    ("box", "box", "बक्सा", "box boxes bx baksa bakas baksha बक्सा बाकस", None, None, False),
    ("bottle", "bottle", "बोतल", "bottle bottles btl btls botal bottal बोतल बोटल", None, None, False),
    ("pathi", "pathi", "पाथी", "pathi paathi pathis pathee पाथी पाथि", "mana", "8", False),
    ("mana", "mana", "माना", "mana maana manaa manas माना", "kg", "0.5625", True),
    ("dharni", "dharni", "धार्नी", "dharni dharnee dharani धार्नी धार्नि धारनी", "kg", "2.4", True),
]  # fmt: skip

# "(1kg)", "25 kg", "500g", "1L", "250 ml" in a product's name: the pack size, in the unit written.
PACK_BACKFILL = r"""
WITH found AS (
    SELECT id, regexp_match(name, '(?:^|[^0-9.])([0-9]+(?:\.[0-9]+)?)\s*(kgs?|gms?|grams?|g|ltr|litre|liter|l|ml)(?![a-z])', 'i') AS m
    FROM products
)
UPDATE products p SET
    pack_size = (f.m)[1]::numeric,
    pack_unit = (CASE lower((f.m)[2])
        WHEN 'kg' THEN 'kg' WHEN 'kgs' THEN 'kg' WHEN 'ml' THEN 'ml'
        WHEN 'ltr' THEN 'litre' WHEN 'litre' THEN 'litre' WHEN 'liter' THEN 'litre' WHEN 'l' THEN 'litre'
        ELSE 'g' END)::unit
FROM found f
WHERE f.id = p.id AND f.m IS NOT NULL AND (f.m)[1]::numeric > 0
"""  # noqa: E501


def upgrade() -> None:
    for code in NEW_CODES:
        op.execute(f"ALTER TYPE unit ADD VALUE IF NOT EXISTS '{code}'")
    op.create_table(
        "units",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("name_ne", sa.Text, nullable=False),
        sa.Column("spellings", ARRAY(sa.Text), nullable=False),
        sa.Column("base_code", sa.Text, sa.ForeignKey("units.code", name="fk_units_base_code_units"), nullable=True),
        sa.Column("factor", sa.Numeric(18, 6), nullable=True),
        sa.Column("approximate", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.CheckConstraint("(base_code IS NULL) = (factor IS NULL)", name="base_with_factor"),
        sa.CheckConstraint("factor IS NULL OR factor > 0", name="factor_positive"),
        sa.CheckConstraint("code = ANY (spellings)", name="code_is_a_spelling"),
    )
    units = sa.table(
        "units",
        sa.column("code", sa.Text),
        sa.column("name_en", sa.Text),
        sa.column("name_ne", sa.Text),
        sa.column("spellings", ARRAY(sa.Text)),
        sa.column("base_code", sa.Text),
        sa.column("factor", sa.Numeric),
        sa.column("approximate", sa.Boolean),
    )
    op.create_index("ix_units_base_code", "units", ["base_code"])
    # bases before the units defined by them, one row at a time (the foreign key checks each)
    done: set[str] = set()
    pending = list(UNITS)
    while pending:
        ready = [row for row in pending if row[4] is None or row[4] in done]
        for code, en, ne, spellings, base, factor, approx in ready:
            op.bulk_insert(
                units,
                [{
                    "code": code, "name_en": en, "name_ne": ne, "spellings": spellings.split(), "base_code": base,
                    "factor": factor, "approximate": approx,
                }],
            )  # fmt: skip
            done.add(code)
        pending = [row for row in pending if row[0] not in done]
    op.add_column("products", sa.Column("pack_size", sa.Numeric(14, 3), nullable=True))
    op.add_column("products", sa.Column("pack_unit", sa.Enum(name="unit", create_type=False), nullable=True))
    op.create_check_constraint(
        "pack_size_with_unit", "products", "(pack_size IS NULL) = (pack_unit IS NULL)"
    )
    op.create_check_constraint("pack_size_positive", "products", "pack_size IS NULL OR pack_size > 0")
    op.execute(PACK_BACKFILL)


def downgrade() -> None:
    op.drop_constraint(op.f("ck_products_pack_size_positive"), "products", type_="check")
    op.drop_constraint(op.f("ck_products_pack_size_with_unit"), "products", type_="check")
    op.drop_column("products", "pack_unit")
    op.drop_column("products", "pack_size")
    op.drop_table("units")
    # PostgreSQL cannot drop an enum value; products still using a new unit keep their value.
