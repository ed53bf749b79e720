"""The production schema: every table, constraint, index and the ledger's append-only triggers.

Reviewed by hand after autogenerate. Integrity rules enforced here, not only in Python:
- stock never negative and 0 <= reserved_stock <= stock (CHECKs on wholesaler_products);
- credit: 0 <= outstanding <= credit_limit (CHECKs on both credit tables);
- ledger_entries: amount > 0, unique idempotency_key, and triggers that reject UPDATE, DELETE and
  TRUNCATE; no foreign key points into it, so it can be partitioned by month later;
- one live WhatsApp number per retailer / wholesaler (partial unique indexes on live rows);
- one live price row per (wholesaler, product); one offer per (order, wholesaler); at most one WON
  offer per order; an order's winner cannot be swapped for another without being released first.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ENUMS: dict[str, list[str]] = {
    "admin_role": ["ADMIN", "VIEWER"],
    "unit": [
        "bora",
        "kg",
        "g",
        "litre",
        "carton",
        "packet",
        "piece",
        "dozen",
        "tray",
        "crate",
        "case",
        "box",
        "bottle",
    ],
    "language": ["en", "ne"],
    "inbound_status": ["PENDING", "QUEUED", "PROCESSED", "FAILED"],
    "order_status": [
        "PENDING_OFFERS",
        "WHOLESALER_SELECTED",
        "CONFIRMED",
        "DISPATCHED",
        "DELIVERED",
        "CANCELLED",
        "EXPIRED",
        "REJECTED",
    ],
    "payment_method": ["CASH", "ESEWA", "KHALTI", "FONEPAY", "BANK_TRANSFER"],
    "actor_type": ["SYSTEM", "RETAILER", "WHOLESALER", "ADMIN"],
    "ledger_entry_type": ["DEBIT", "CREDIT"],
    "outbound_status": ["PENDING", "SENDING", "QUEUED", "SENT", "DELIVERED", "READ", "FAILED", "UNDELIVERED"],
    "offer_status": ["PENDING", "SUBMITTED", "PASSED", "WON", "LOST", "DECLINED"],
    "reservation_status": ["ACTIVE", "CONSUMED", "RELEASED"],
}


LEDGER_GUARD = """
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: % is not allowed; post a CREDIT entry to correct it', TG_OP
        USING ERRCODE = 'restrict_violation', HINT = 'Corrections are new CREDIT entries.';
END;
$$;
CREATE TRIGGER trg_ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
CREATE TRIGGER trg_ledger_entries_no_delete BEFORE DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
CREATE TRIGGER trg_ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only();
"""

# A decided order keeps its winner: moving it to another wholesaler must first release the winner
# (set NULL, as the accept-timeout path does), so two racing deciders cannot overwrite each other.
WINNER_GUARD = """
CREATE FUNCTION orders_winner_set_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'order % already has winning wholesaler %; refusing %',
        OLD.ref, OLD.final_wholesaler_id, NEW.final_wholesaler_id
        USING ERRCODE = 'unique_violation', CONSTRAINT = 'trg_orders_winner_set_once';
END;
$$;
CREATE TRIGGER trg_orders_winner_set_once BEFORE UPDATE OF final_wholesaler_id ON orders
    FOR EACH ROW
    WHEN (OLD.final_wholesaler_id IS NOT NULL AND NEW.final_wholesaler_id IS NOT NULL
          AND OLD.final_wholesaler_id <> NEW.final_wholesaler_id)
    EXECUTE FUNCTION orders_winner_set_once();
"""


def upgrade() -> None:
    for name, values in ENUMS.items():
        postgresql.ENUM(*values, name=name).create(op.get_bind())
    op.create_table(
        "admins",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column(
            "role",
            postgresql.ENUM(name="admin_role", create_type=False),
            server_default="ADMIN",
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_admins_email_lowercase")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admins")),
    )
    op.create_index(
        "uq_admins_email_live",
        "admins",
        ["email"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_ne", sa.String(length=200), nullable=True),
        sa.Column(
            "aliases", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False
        ),
        sa.Column("unit", postgresql.ENUM(name="unit", create_type=False), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("sku ~ '^[A-Z0-9][A-Z0-9_-]*$'", name=op.f("ck_products_sku_format")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("sku", name=op.f("uq_products_sku")),
    )
    op.create_index(
        "ix_products_category_live",
        "products",
        ["category"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "retailers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("shop_name", sa.String(length=200), nullable=True),
        sa.Column("whatsapp_number", sa.String(length=20), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("language", postgresql.ENUM(name="language", create_type=False), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "whatsapp_number ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f("ck_retailers_whatsapp_e164")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retailers")),
    )
    op.create_index("ix_retailers_created_at", "retailers", ["created_at"], unique=False)
    op.create_index(
        "ix_retailers_district_live",
        "retailers",
        ["district"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "uq_retailers_whatsapp_number_live",
        "retailers",
        ["whatsapp_number"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "wholesalers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("business_name", sa.String(length=200), nullable=True),
        sa.Column("whatsapp_number", sa.String(length=20), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("language", postgresql.ENUM(name="language", create_type=False), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "whatsapp_number ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f("ck_wholesalers_whatsapp_e164")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wholesalers")),
    )
    op.create_index("ix_wholesalers_created_at", "wholesalers", ["created_at"], unique=False)
    op.create_index(
        "ix_wholesalers_district_live",
        "wholesalers",
        ["district"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "uq_wholesalers_whatsapp_number_live",
        "wholesalers",
        ["whatsapp_number"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "admin_audit_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("admin_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("entity_type", sa.String(length=100), nullable=False),
        sa.Column("entity_id", sa.String(length=100), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admins.id"], name=op.f("fk_admin_audit_logs_admin_id_admins"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit_logs")),
    )
    op.create_index(op.f("ix_admin_audit_logs_admin_id"), "admin_audit_logs", ["admin_id"], unique=False)
    op.create_index("ix_admin_audit_logs_created_at", "admin_audit_logs", ["created_at"], unique=False)
    op.create_index(
        "ix_admin_audit_logs_entity_type_entity_id",
        "admin_audit_logs",
        ["entity_type", "entity_id"],
        unique=False,
    )
    op.create_table(
        "credit_accounts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("retailer_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "credit_limit", sa.Numeric(precision=14, scale=2), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "outstanding", sa.Numeric(precision=14, scale=2), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("credit_limit >= 0", name=op.f("ck_credit_accounts_credit_limit_non_negative")),
        sa.CheckConstraint(
            "outstanding >= 0 AND outstanding <= credit_limit",
            name=op.f("ck_credit_accounts_outstanding_within_limit"),
        ),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.id"],
            name=op.f("fk_credit_accounts_retailer_id_retailers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_accounts")),
        sa.UniqueConstraint("retailer_id", name=op.f("uq_credit_accounts_retailer_id")),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("from_number", sa.String(length=40), nullable=False),
        sa.Column("to_number", sa.String(length=40), nullable=True),
        sa.Column("body", sa.Text(), server_default="", nullable=False),
        sa.Column("wa_id", sa.String(length=40), nullable=True),
        sa.Column("profile_name", sa.String(length=200), nullable=True),
        sa.Column("num_media", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "media_urls", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False
        ),
        sa.Column("button_payload", sa.Text(), nullable=True),
        sa.Column("button_text", sa.Text(), nullable=True),
        sa.Column(
            "status",
            postgresql.ENUM(name="inbound_status", create_type=False),
            server_default="PENDING",
            nullable=False,
        ),
        sa.Column("retailer_id", sa.BigInteger(), nullable=True),
        sa.Column("wholesaler_id", sa.BigInteger(), nullable=True),
        sa.Column("intent", sa.String(length=40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("num_media >= 0", name=op.f("ck_inbound_messages_num_media_non_negative")),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.id"],
            name=op.f("fk_inbound_messages_retailer_id_retailers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_inbound_messages_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint("message_sid", name=op.f("uq_inbound_messages_message_sid")),
    )
    op.create_index(
        "ix_inbound_messages_from_number_received_at",
        "inbound_messages",
        ["from_number", "received_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_inbound_messages_retailer_id"), "inbound_messages", ["retailer_id"], unique=False
    )
    op.create_index(
        "ix_inbound_messages_status_received_at_open",
        "inbound_messages",
        ["status", "received_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('PENDING', 'QUEUED')"),
    )
    op.create_index(
        op.f("ix_inbound_messages_wholesaler_id"), "inbound_messages", ["wholesaler_id"], unique=False
    )
    op.create_table(
        "order_drafts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("retailer_id", sa.BigInteger(), nullable=False),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("estimated_total", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.id"],
            name=op.f("fk_order_drafts_retailer_id_retailers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_drafts")),
        sa.UniqueConstraint("retailer_id", name=op.f("uq_order_drafts_retailer_id")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("retailer_id", sa.BigInteger(), nullable=False),
        sa.Column("final_wholesaler_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            postgresql.ENUM(name="order_status", create_type=False),
            server_default="PENDING_OFFERS",
            nullable=False,
        ),
        sa.Column("estimated_total", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("final_total", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("delivery_district", sa.String(length=100), nullable=True),
        sa.Column("offer_window_closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accept_deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "final_wholesaler_id IS NOT NULL OR status NOT IN ('WHOLESALER_SELECTED', 'CONFIRMED', 'DISPATCHED', 'DELIVERED')",
            name=op.f("ck_orders_winner_when_selected"),
        ),
        sa.CheckConstraint("ref ~ '^TK-[0-9A-Z]{4,8}$'", name=op.f("ck_orders_ref_format")),
        sa.CheckConstraint(
            "estimated_total IS NULL OR estimated_total >= 0",
            name=op.f("ck_orders_estimated_total_non_negative"),
        ),
        sa.CheckConstraint(
            "final_total IS NULL OR final_total >= 0", name=op.f("ck_orders_final_total_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["final_wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_orders_final_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.id"],
            name=op.f("fk_orders_retailer_id_retailers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("ref", name=op.f("uq_orders_ref")),
    )
    op.create_index("ix_orders_created_at", "orders", ["created_at"], unique=False)
    op.create_index(
        "ix_orders_final_wholesaler_id_created_at",
        "orders",
        ["final_wholesaler_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_orders_offer_window_closes_at_open",
        "orders",
        ["offer_window_closes_at"],
        unique=False,
        postgresql_where=sa.text("status = 'PENDING_OFFERS' AND deleted_at IS NULL"),
    )
    op.create_index("ix_orders_retailer_id_created_at", "orders", ["retailer_id", "created_at"], unique=False)
    op.create_index("ix_orders_status_created_at", "orders", ["status", "created_at"], unique=False)
    op.create_table(
        "retailer_payments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("retailer_id", sa.BigInteger(), nullable=False),
        sa.Column("wholesaler_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("method", postgresql.ENUM(name="payment_method", create_type=False), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recorded_by_admin_id", sa.BigInteger(), nullable=True),
        sa.Column("recorded_by_wholesaler_id", sa.BigInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_retailer_payments_amount_positive")),
        sa.CheckConstraint(
            "recorded_by_admin_id IS NOT NULL OR recorded_by_wholesaler_id IS NOT NULL",
            name=op.f("ck_retailer_payments_recorded_by_someone"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_admin_id"],
            ["admins.id"],
            name=op.f("fk_retailer_payments_recorded_by_admin_id_admins"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_retailer_payments_recorded_by_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.id"],
            name=op.f("fk_retailer_payments_retailer_id_retailers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_retailer_payments_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retailer_payments")),
    )
    op.create_index(
        op.f("ix_retailer_payments_recorded_by_admin_id"),
        "retailer_payments",
        ["recorded_by_admin_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_retailer_payments_recorded_by_wholesaler_id"),
        "retailer_payments",
        ["recorded_by_wholesaler_id"],
        unique=False,
    )
    op.create_index(
        "ix_retailer_payments_retailer_id_received_at",
        "retailer_payments",
        ["retailer_id", "received_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_retailer_payments_wholesaler_id"), "retailer_payments", ["wholesaler_id"], unique=False
    )
    op.create_index(
        "uq_retailer_payments_method_reference",
        "retailer_payments",
        ["method", "reference"],
        unique=True,
        postgresql_where=sa.text("reference IS NOT NULL"),
    )
    op.create_table(
        "retailer_wholesaler_credits",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("retailer_id", sa.BigInteger(), nullable=False),
        sa.Column("wholesaler_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "credit_limit", sa.Numeric(precision=14, scale=2), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "outstanding", sa.Numeric(precision=14, scale=2), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "credit_limit >= 0", name=op.f("ck_retailer_wholesaler_credits_credit_limit_non_negative")
        ),
        sa.CheckConstraint(
            "outstanding >= 0 AND outstanding <= credit_limit",
            name=op.f("ck_retailer_wholesaler_credits_outstanding_within_limit"),
        ),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.id"],
            name=op.f("fk_retailer_wholesaler_credits_retailer_id_retailers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_retailer_wholesaler_credits_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retailer_wholesaler_credits")),
        sa.UniqueConstraint(
            "retailer_id",
            "wholesaler_id",
            name=op.f("uq_retailer_wholesaler_credits_retailer_id_wholesaler_id"),
        ),
    )
    op.create_index(
        op.f("ix_retailer_wholesaler_credits_wholesaler_id"),
        "retailer_wholesaler_credits",
        ["wholesaler_id"],
        unique=False,
    )
    op.create_table(
        "wholesaler_products",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("wholesaler_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("stock", sa.Numeric(precision=14, scale=3), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "reserved_stock", sa.Numeric(precision=14, scale=3), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("is_available", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("price >= 0", name=op.f("ck_wholesaler_products_price_non_negative")),
        sa.CheckConstraint(
            "reserved_stock >= 0 AND reserved_stock <= stock",
            name=op.f("ck_wholesaler_products_reserved_within_stock"),
        ),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_wholesaler_products_stock_non_negative")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_wholesaler_products_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_wholesaler_products_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wholesaler_products")),
    )
    op.create_index(
        op.f("ix_wholesaler_products_product_id"), "wholesaler_products", ["product_id"], unique=False
    )
    op.create_index(
        "ix_wholesaler_products_product_id_live",
        "wholesaler_products",
        ["product_id"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        op.f("ix_wholesaler_products_wholesaler_id"), "wholesaler_products", ["wholesaler_id"], unique=False
    )
    op.create_index(
        "uq_wholesaler_products_wholesaler_id_product_id_live",
        "wholesaler_products",
        ["wholesaler_id", "product_id"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "audit_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("retailer_id", sa.BigInteger(), nullable=True),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_type", postgresql.ENUM(name="actor_type", create_type=False), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("from_status", sa.String(length=40), nullable=True),
        sa.Column("to_status", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_audit_logs_order_id_orders"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.id"],
            name=op.f("fk_audit_logs_retailer_id_retailers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_logs")),
    )
    op.create_index(
        "ix_audit_logs_order_id_created_at", "audit_logs", ["order_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_audit_logs_retailer_id_created_at", "audit_logs", ["retailer_id", "created_at"], unique=False
    )
    op.create_table(
        "decision_conflict_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("existing_wholesaler_id", sa.BigInteger(), nullable=True),
        sa.Column("attempted_wholesaler_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempted_wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_decision_conflict_logs_attempted_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["existing_wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_decision_conflict_logs_existing_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_decision_conflict_logs_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_conflict_logs")),
    )
    op.create_index(
        op.f("ix_decision_conflict_logs_attempted_wholesaler_id"),
        "decision_conflict_logs",
        ["attempted_wholesaler_id"],
        unique=False,
    )
    op.create_index(
        "ix_decision_conflict_logs_created_at", "decision_conflict_logs", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_decision_conflict_logs_existing_wholesaler_id"),
        "decision_conflict_logs",
        ["existing_wholesaler_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_decision_conflict_logs_order_id"), "decision_conflict_logs", ["order_id"], unique=False
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entry_type", postgresql.ENUM(name="ledger_entry_type", create_type=False), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("retailer_id", sa.BigInteger(), nullable=False),
        sa.Column("wholesaler_id", sa.BigInteger(), nullable=True),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("reverses_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("balance_after", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "payment_id IS NULL OR entry_type = 'CREDIT'", name=op.f("ck_ledger_entries_payment_is_credit")
        ),
        sa.CheckConstraint(
            "reverses_entry_id IS NULL OR entry_type = 'CREDIT'",
            name=op.f("ck_ledger_entries_correction_is_credit"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_entries_amount_positive")),
        sa.CheckConstraint("balance_after >= 0", name=op.f("ck_ledger_entries_balance_after_non_negative")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_ledger_entries_order_id_orders"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["retailer_payments.id"],
            name=op.f("fk_ledger_entries_payment_id_retailer_payments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.id"],
            name=op.f("fk_ledger_entries_retailer_id_retailers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_ledger_entries_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_entries_idempotency_key")),
    )
    op.create_index(op.f("ix_ledger_entries_order_id"), "ledger_entries", ["order_id"], unique=False)
    op.create_index(
        "ix_ledger_entries_retailer_id_created_at",
        "ledger_entries",
        ["retailer_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ledger_entries_wholesaler_id"), "ledger_entries", ["wholesaler_id"], unique=False
    )
    op.create_index(
        "uq_ledger_entries_payment_id",
        "ledger_entries",
        ["payment_id"],
        unique=True,
        postgresql_where=sa.text("payment_id IS NOT NULL"),
    )
    op.create_table(
        "order_items",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit", postgresql.ENUM(name="unit", create_type=False), nullable=False),
        sa.Column("estimated_unit_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("raw_text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_items_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_items_order_id_orders"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_order_items_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_items")),
        sa.UniqueConstraint("order_id", "product_id", name=op.f("uq_order_items_order_id_product_id")),
    )
    op.create_index(op.f("ix_order_items_product_id"), "order_items", ["product_id"], unique=False)
    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("to_number", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=40), server_default="reply", nullable=False),
        sa.Column(
            "status",
            postgresql.ENUM(name="outbound_status", create_type=False),
            server_default="PENDING",
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("content_sid", sa.String(length=64), nullable=True),
        sa.Column("content_variables", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("in_reply_to_id", sa.BigInteger(), nullable=True),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("retailer_id", sa.BigInteger(), nullable=True),
        sa.Column("wholesaler_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error_code", sa.String(length=20), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbound_messages_attempts_non_negative")),
        sa.ForeignKeyConstraint(
            ["in_reply_to_id"],
            ["inbound_messages.id"],
            name=op.f("fk_outbound_messages_in_reply_to_id_inbound_messages"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_outbound_messages_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.id"],
            name=op.f("fk_outbound_messages_retailer_id_retailers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_outbound_messages_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_messages")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbound_messages_idempotency_key")),
    )
    op.create_index(
        op.f("ix_outbound_messages_in_reply_to_id"), "outbound_messages", ["in_reply_to_id"], unique=False
    )
    op.create_index(op.f("ix_outbound_messages_order_id"), "outbound_messages", ["order_id"], unique=False)
    op.create_index(
        op.f("ix_outbound_messages_retailer_id"), "outbound_messages", ["retailer_id"], unique=False
    )
    op.create_index(
        "ix_outbound_messages_status_created_at_open",
        "outbound_messages",
        ["status", "created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('PENDING', 'SENDING', 'FAILED', 'UNDELIVERED')"),
    )
    op.create_index(
        "ix_outbound_messages_to_number_created_at",
        "outbound_messages",
        ["to_number", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_outbound_messages_wholesaler_id"), "outbound_messages", ["wholesaler_id"], unique=False
    )
    op.create_index(
        "uq_outbound_messages_provider_sid",
        "outbound_messages",
        ["provider_sid"],
        unique=True,
        postgresql_where=sa.text("provider_sid IS NOT NULL"),
    )
    op.create_table(
        "vendor_offers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("wholesaler_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            postgresql.ENUM(name="offer_status", create_type=False),
            server_default="PENDING",
            nullable=False,
        ),
        sa.Column("total_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("delivery_days", sa.Integer(), nullable=True),
        sa.Column("score", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.Column("score_breakdown", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("invited_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "delivery_days IS NULL OR delivery_days >= 0",
            name=op.f("ck_vendor_offers_delivery_days_non_negative"),
        ),
        sa.CheckConstraint("total_price >= 0", name=op.f("ck_vendor_offers_total_price_non_negative")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_vendor_offers_order_id_orders"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_vendor_offers_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_offers")),
        sa.UniqueConstraint(
            "order_id", "wholesaler_id", name=op.f("uq_vendor_offers_order_id_wholesaler_id")
        ),
    )
    op.create_index(
        "ix_vendor_offers_wholesaler_id_created_at",
        "vendor_offers",
        ["wholesaler_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "uq_vendor_offers_order_id_won",
        "vendor_offers",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("status = 'WON'"),
    )
    op.create_table(
        "stock_reservations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("wholesaler_product_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("order_item_id", sa.BigInteger(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column(
            "status",
            postgresql.ENUM(name="reservation_status", create_type=False),
            server_default="ACTIVE",
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(status = 'ACTIVE') = (closed_at IS NULL)",
            name=op.f("ck_stock_reservations_closed_when_not_active"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_stock_reservations_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_stock_reservations_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_item_id"],
            ["order_items.id"],
            name=op.f("fk_stock_reservations_order_item_id_order_items"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["wholesaler_product_id"],
            ["wholesaler_products.id"],
            name=op.f("fk_stock_reservations_wholesaler_product_id_wholesaler_products"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_reservations")),
    )
    op.create_index(
        "ix_stock_reservations_expires_at_active",
        "stock_reservations",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.create_index(op.f("ix_stock_reservations_order_id"), "stock_reservations", ["order_id"], unique=False)
    op.create_index(
        op.f("ix_stock_reservations_order_item_id"), "stock_reservations", ["order_item_id"], unique=False
    )
    op.create_index(
        op.f("ix_stock_reservations_wholesaler_product_id"),
        "stock_reservations",
        ["wholesaler_product_id"],
        unique=False,
    )
    op.create_index(
        "uq_stock_reservations_order_id_wholesaler_product_id_active",
        "stock_reservations",
        ["order_id", "wholesaler_product_id"],
        unique=True,
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )

    op.execute(LEDGER_GUARD)
    op.execute(WINNER_GUARD)


def downgrade() -> None:
    op.execute("DROP TRIGGER trg_orders_winner_set_once ON orders")
    op.execute("DROP FUNCTION orders_winner_set_once()")
    op.execute("DROP TRIGGER trg_ledger_entries_no_truncate ON ledger_entries")
    op.execute("DROP TRIGGER trg_ledger_entries_no_delete ON ledger_entries")
    op.execute("DROP TRIGGER trg_ledger_entries_no_update ON ledger_entries")
    op.execute("DROP FUNCTION ledger_entries_append_only()")
    op.drop_index(
        "uq_stock_reservations_order_id_wholesaler_product_id_active",
        table_name="stock_reservations",
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.drop_index(op.f("ix_stock_reservations_wholesaler_product_id"), table_name="stock_reservations")
    op.drop_index(op.f("ix_stock_reservations_order_item_id"), table_name="stock_reservations")
    op.drop_index(op.f("ix_stock_reservations_order_id"), table_name="stock_reservations")
    op.drop_index(
        "ix_stock_reservations_expires_at_active",
        table_name="stock_reservations",
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.drop_table("stock_reservations")
    op.drop_index(
        "uq_vendor_offers_order_id_won",
        table_name="vendor_offers",
        postgresql_where=sa.text("status = 'WON'"),
    )
    op.drop_index("ix_vendor_offers_wholesaler_id_created_at", table_name="vendor_offers")
    op.drop_table("vendor_offers")
    op.drop_index(
        "uq_outbound_messages_provider_sid",
        table_name="outbound_messages",
        postgresql_where=sa.text("provider_sid IS NOT NULL"),
    )
    op.drop_index(op.f("ix_outbound_messages_wholesaler_id"), table_name="outbound_messages")
    op.drop_index("ix_outbound_messages_to_number_created_at", table_name="outbound_messages")
    op.drop_index(
        "ix_outbound_messages_status_created_at_open",
        table_name="outbound_messages",
        postgresql_where=sa.text("status IN ('PENDING', 'SENDING', 'FAILED', 'UNDELIVERED')"),
    )
    op.drop_index(op.f("ix_outbound_messages_retailer_id"), table_name="outbound_messages")
    op.drop_index(op.f("ix_outbound_messages_order_id"), table_name="outbound_messages")
    op.drop_index(op.f("ix_outbound_messages_in_reply_to_id"), table_name="outbound_messages")
    op.drop_table("outbound_messages")
    op.drop_index(op.f("ix_order_items_product_id"), table_name="order_items")
    op.drop_table("order_items")
    op.drop_index(
        "uq_ledger_entries_payment_id",
        table_name="ledger_entries",
        postgresql_where=sa.text("payment_id IS NOT NULL"),
    )
    op.drop_index(op.f("ix_ledger_entries_wholesaler_id"), table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_retailer_id_created_at", table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_order_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index(op.f("ix_decision_conflict_logs_order_id"), table_name="decision_conflict_logs")
    op.drop_index(
        op.f("ix_decision_conflict_logs_existing_wholesaler_id"), table_name="decision_conflict_logs"
    )
    op.drop_index("ix_decision_conflict_logs_created_at", table_name="decision_conflict_logs")
    op.drop_index(
        op.f("ix_decision_conflict_logs_attempted_wholesaler_id"), table_name="decision_conflict_logs"
    )
    op.drop_table("decision_conflict_logs")
    op.drop_index("ix_audit_logs_retailer_id_created_at", table_name="audit_logs")
    op.drop_index("ix_audit_logs_order_id_created_at", table_name="audit_logs")
    op.drop_table("audit_logs")
    op.drop_index(
        "uq_wholesaler_products_wholesaler_id_product_id_live",
        table_name="wholesaler_products",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index(op.f("ix_wholesaler_products_wholesaler_id"), table_name="wholesaler_products")
    op.drop_index(
        "ix_wholesaler_products_product_id_live",
        table_name="wholesaler_products",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index(op.f("ix_wholesaler_products_product_id"), table_name="wholesaler_products")
    op.drop_table("wholesaler_products")
    op.drop_index(
        op.f("ix_retailer_wholesaler_credits_wholesaler_id"), table_name="retailer_wholesaler_credits"
    )
    op.drop_table("retailer_wholesaler_credits")
    op.drop_index(
        "uq_retailer_payments_method_reference",
        table_name="retailer_payments",
        postgresql_where=sa.text("reference IS NOT NULL"),
    )
    op.drop_index(op.f("ix_retailer_payments_wholesaler_id"), table_name="retailer_payments")
    op.drop_index("ix_retailer_payments_retailer_id_received_at", table_name="retailer_payments")
    op.drop_index(op.f("ix_retailer_payments_recorded_by_wholesaler_id"), table_name="retailer_payments")
    op.drop_index(op.f("ix_retailer_payments_recorded_by_admin_id"), table_name="retailer_payments")
    op.drop_table("retailer_payments")
    op.drop_index("ix_orders_status_created_at", table_name="orders")
    op.drop_index("ix_orders_retailer_id_created_at", table_name="orders")
    op.drop_index(
        "ix_orders_offer_window_closes_at_open",
        table_name="orders",
        postgresql_where=sa.text("status = 'PENDING_OFFERS' AND deleted_at IS NULL"),
    )
    op.drop_index("ix_orders_final_wholesaler_id_created_at", table_name="orders")
    op.drop_index("ix_orders_created_at", table_name="orders")
    op.drop_table("orders")
    op.drop_table("order_drafts")
    op.drop_index(op.f("ix_inbound_messages_wholesaler_id"), table_name="inbound_messages")
    op.drop_index(
        "ix_inbound_messages_status_received_at_open",
        table_name="inbound_messages",
        postgresql_where=sa.text("status IN ('PENDING', 'QUEUED')"),
    )
    op.drop_index(op.f("ix_inbound_messages_retailer_id"), table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_from_number_received_at", table_name="inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_table("credit_accounts")
    op.drop_index("ix_admin_audit_logs_entity_type_entity_id", table_name="admin_audit_logs")
    op.drop_index("ix_admin_audit_logs_created_at", table_name="admin_audit_logs")
    op.drop_index(op.f("ix_admin_audit_logs_admin_id"), table_name="admin_audit_logs")
    op.drop_table("admin_audit_logs")
    op.drop_index(
        "uq_wholesalers_whatsapp_number_live",
        table_name="wholesalers",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index(
        "ix_wholesalers_district_live",
        table_name="wholesalers",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index("ix_wholesalers_created_at", table_name="wholesalers")
    op.drop_table("wholesalers")
    op.drop_index(
        "uq_retailers_whatsapp_number_live",
        table_name="retailers",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index(
        "ix_retailers_district_live", table_name="retailers", postgresql_where=sa.text("deleted_at IS NULL")
    )
    op.drop_index("ix_retailers_created_at", table_name="retailers")
    op.drop_table("retailers")
    op.drop_index(
        "ix_products_category_live", table_name="products", postgresql_where=sa.text("deleted_at IS NULL")
    )
    op.drop_table("products")
    op.drop_index("uq_admins_email_live", table_name="admins", postgresql_where=sa.text("deleted_at IS NULL"))
    op.drop_table("admins")
    for name in reversed(list(ENUMS)):
        postgresql.ENUM(name=name).drop(op.get_bind())
