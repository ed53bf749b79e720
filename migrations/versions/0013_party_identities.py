"""People who are not (only) a phone number, and the media they send (issue 18).

- `party_identities`: a WhatsApp provider's id for a person, `wa_id` (their number's digits) or
  Meta's business-scoped user id (`bsuid`, e.g. US.13491208655302741918: a username user may hide
  their number). One row per provider, kind and value; linked to at most one party (a retailer or a
  wholesaler) when the message came with that party's number, or by an admin on the dashboard
  (audited). Unlinked rows are the ids seen in messages that reached nobody yet.
- `inbound_media`: a photo, voice note or document a sender attached, fetched at once (Meta's
  media ids expire within days), by the provider's media id.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "party_identities",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=160), nullable=False),
        sa.Column("retailer_id", sa.BigInteger(), nullable=True),
        sa.Column("wholesaler_id", sa.BigInteger(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("username", sa.String(length=100), nullable=True),
        sa.Column("profile_name", sa.String(length=200), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('wa_id', 'bsuid')", name=op.f("ck_party_identities_kind_known")),
        sa.CheckConstraint("retailer_id IS NULL OR wholesaler_id IS NULL", name=op.f("ck_party_identities_one_party")),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.id"],
            name=op.f("fk_party_identities_retailer_id_retailers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_party_identities_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_identities")),
    )
    op.create_index(
        "uq_party_identities_provider_kind_value", "party_identities", ["provider", "kind", "value"], unique=True
    )
    op.create_index(op.f("ix_party_identities_retailer_id"), "party_identities", ["retailer_id"], unique=False)
    op.create_index(op.f("ix_party_identities_wholesaler_id"), "party_identities", ["wholesaler_id"], unique=False)
    op.create_table(
        "inbound_media",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("inbound_id", sa.BigInteger(), nullable=False),
        sa.Column("media_id", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_inbound_media_size_non_negative")),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_messages.id"],
            name=op.f("fk_inbound_media_inbound_id_inbound_messages"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_media")),
        sa.UniqueConstraint("media_id", name=op.f("uq_inbound_media_media_id")),
    )
    op.create_index(op.f("ix_inbound_media_inbound_id"), "inbound_media", ["inbound_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_inbound_media_inbound_id"), table_name="inbound_media")
    op.drop_table("inbound_media")
    op.drop_index(op.f("ix_party_identities_wholesaler_id"), table_name="party_identities")
    op.drop_index(op.f("ix_party_identities_retailer_id"), table_name="party_identities")
    op.drop_index("uq_party_identities_provider_kind_value", table_name="party_identities")
    op.drop_table("party_identities")
