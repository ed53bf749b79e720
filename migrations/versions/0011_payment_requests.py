"""Paying the khata from the chat (issue 17): payment requests, and payments that settle them.

- `payment_requests`: one row per "pay" link Thok sends: the amount asked (at most what is owed
  when asked), the gateway the retailer chose when opening the link (Khalti or eSewa), the
  gateway's own reference (Khalti's pidx, unique per gateway), its last status verbatim, and ours:
  OPEN until it is settled, then COMPLETED, FAILED, EXPIRED, CANCELLED or REVIEW (the gateway took
  money Thok could not book by itself: another amount, or more than is owed by then).
- `retailer_payments.payment_request_id`: the payment a COMPLETED request booked, UNIQUE, so one
  request books one payment whatever arrives twice (the redirect, the lookup job, a retry); the
  ledger's idempotency key (`payment-request:<id>`) says the same for the CREDIT.
- `outbound_messages.media_url`: a document sent with a message (the month's PDF statement, at
  a signed link that expires; Twilio fetches it when it sends).
- Reminders of money due: `payment_reminders` (one row per reminder decided: SENT with its outbox
  row, or NOT_SENT with the reason, e.g. no template for a shop outside the 24-hour window, which
  the dashboard shows), and `retailers.reminders_stopped_at` (the shop replied STOP; START undoes
  it; both are in `audit_logs`).
- The CHECK that a payment was recorded by someone (an admin or a wholesaler) now also accepts a
  payment request: the gateway's confirmation, checked by Thok, is the record.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'OPEN', 'COMPLETED', 'FAILED', 'EXPIRED', 'CANCELLED', 'REVIEW'"


def upgrade() -> None:
    op.create_table(
        "payment_requests",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.Column("retailer_id", sa.BigInteger(), nullable=False),
        sa.Column("wholesaler_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="NPR", nullable=False),
        sa.Column("gateway", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="OPEN", nullable=False),
        sa.Column("gateway_ref", sa.String(length=100), nullable=True),
        sa.Column("gateway_url", sa.Text(), nullable=True),
        sa.Column("gateway_status", sa.String(length=40), nullable=True),
        sa.Column("transaction_ref", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_requests_amount_positive")),
        sa.CheckConstraint("currency = 'NPR'", name=op.f("ck_payment_requests_currency_npr")),
        sa.CheckConstraint("gateway IN ('khalti', 'esewa')", name=op.f("ck_payment_requests_gateway_known")),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_payment_requests_status_known")),
        sa.CheckConstraint(
            "(status = 'OPEN') = (settled_at IS NULL)", name=op.f("ck_payment_requests_settled_when_closed")
        ),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.id"],
            name=op.f("fk_payment_requests_retailer_id_retailers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["wholesaler_id"],
            ["wholesalers.id"],
            name=op.f("fk_payment_requests_wholesaler_id_wholesalers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_requests")),
        sa.UniqueConstraint("token", name=op.f("uq_payment_requests_token")),
    )
    op.create_index(op.f("ix_payment_requests_retailer_id"), "payment_requests", ["retailer_id"])
    op.create_index(op.f("ix_payment_requests_wholesaler_id"), "payment_requests", ["wholesaler_id"])
    op.create_index(
        "uq_payment_requests_gateway_gateway_ref",
        "payment_requests",
        ["gateway", "gateway_ref"],
        unique=True,
        postgresql_where=sa.text("gateway_ref IS NOT NULL"),
    )
    op.create_index(
        "ix_payment_requests_expires_at_open",
        "payment_requests",
        ["expires_at"],
        postgresql_where=sa.text("status = 'OPEN'"),
    )

    op.add_column("outbound_messages", sa.Column("media_url", sa.Text(), nullable=True))
    op.add_column("retailers", sa.Column("reminders_stopped_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "payment_reminders",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("retailer_id", sa.BigInteger(), nullable=False),
        sa.Column("outstanding", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("outbound_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('SENT', 'NOT_SENT')", name=op.f("ck_payment_reminders_status_known")),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.id"],
            name=op.f("fk_payment_reminders_retailer_id_retailers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["outbound_message_id"],
            ["outbound_messages.id"],
            name=op.f("fk_payment_reminders_outbound_message_id_outbound_messages"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reminders")),
    )
    op.create_index("ix_payment_reminders_retailer_id_created_at", "payment_reminders", ["retailer_id", "created_at"])
    op.create_index(op.f("ix_payment_reminders_outbound_message_id"), "payment_reminders", ["outbound_message_id"])
    op.add_column("retailer_payments", sa.Column("payment_request_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_retailer_payments_payment_request_id_payment_requests"),
        "retailer_payments",
        "payment_requests",
        ["payment_request_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_unique_constraint(
        op.f("uq_retailer_payments_payment_request_id"), "retailer_payments", ["payment_request_id"]
    )
    op.drop_constraint(op.f("ck_retailer_payments_recorded_by_someone"), "retailer_payments", type_="check")
    op.create_check_constraint(
        op.f("ck_retailer_payments_recorded_by_someone"),
        "retailer_payments",
        "recorded_by_admin_id IS NOT NULL OR recorded_by_wholesaler_id IS NOT NULL OR payment_request_id IS NOT NULL",
    )


def downgrade() -> None:
    # Payments a gateway booked have no admin or wholesaler to stand in for them: the downgrade
    # refuses (by the CHECK) while any exists, rather than lose who recorded them.
    op.drop_constraint(op.f("ck_retailer_payments_recorded_by_someone"), "retailer_payments", type_="check")
    op.create_check_constraint(
        op.f("ck_retailer_payments_recorded_by_someone"),
        "retailer_payments",
        "recorded_by_admin_id IS NOT NULL OR recorded_by_wholesaler_id IS NOT NULL",
    )
    op.drop_constraint(op.f("uq_retailer_payments_payment_request_id"), "retailer_payments", type_="unique")
    op.drop_constraint(
        op.f("fk_retailer_payments_payment_request_id_payment_requests"), "retailer_payments", type_="foreignkey"
    )
    op.drop_column("retailer_payments", "payment_request_id")
    op.drop_column("outbound_messages", "media_url")
    op.drop_table("payment_reminders")
    op.drop_column("retailers", "reminders_stopped_at")
    op.drop_index("ix_payment_requests_expires_at_open", table_name="payment_requests")
    op.drop_index("uq_payment_requests_gateway_gateway_ref", table_name="payment_requests")
    op.drop_index(op.f("ix_payment_requests_wholesaler_id"), table_name="payment_requests")
    op.drop_index(op.f("ix_payment_requests_retailer_id"), table_name="payment_requests")
    op.drop_table("payment_requests")
