"""Thok's production data model (SQLAlchemy 2.0, typed).

The integrity rules live in PostgreSQL itself (CHECKs, partial unique indexes, triggers), so a bug
in Python or a hand-written SQL statement cannot break them. The migration in `migrations/` is the
DDL of record; `thok db verify` compares the live database against the names declared here.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Every constraint and index gets a predictable name, so migrations, `thok db verify` and the
# constraint-violation metrics can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(14, 2)  # NPR
Quantity = Numeric(14, 3)  # half a kg is a real order


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _pg_enum(cls: type[enum.Enum], name: str) -> Enum:
    # Store the enum's values (what PostgreSQL and the SQL in reports see), not Python names.
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e], validate_strings=True)


class OrderStatus(enum.StrEnum):
    PENDING_OFFERS = "PENDING_OFFERS"
    WHOLESALER_SELECTED = "WHOLESALER_SELECTED"
    CONFIRMED = "CONFIRMED"
    DISPATCHED = "DISPATCHED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


class OfferStatus(enum.StrEnum):
    PENDING = "PENDING"  # invited at catalog price, no answer yet
    SUBMITTED = "SUBMITTED"  # the wholesaler answered OFFER or ACCEPT
    PASSED = "PASSED"
    WON = "WON"
    LOST = "LOST"
    DECLINED = "DECLINED"  # won, then passed or let the accept window run out


class ReservationStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    CONSUMED = "CONSUMED"
    RELEASED = "RELEASED"


class EntryType(enum.StrEnum):
    DEBIT = "DEBIT"
    CREDIT = "CREDIT"


class AdminRole(enum.StrEnum):
    ADMIN = "ADMIN"
    VIEWER = "VIEWER"


class Language(enum.StrEnum):
    EN = "en"
    NE = "ne"


class InboundStatus(enum.StrEnum):
    PENDING = "PENDING"  # stored, not yet on the queue (Redis may have been down)
    QUEUED = "QUEUED"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"


class OutboundStatus(enum.StrEnum):
    PENDING = "PENDING"  # in the outbox
    SENDING = "SENDING"  # claimed by a sender; provider SID not yet stored
    QUEUED = "QUEUED"  # accepted by the provider
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"
    FAILED = "FAILED"
    UNDELIVERED = "UNDELIVERED"


class ActorType(enum.StrEnum):
    SYSTEM = "SYSTEM"
    RETAILER = "RETAILER"
    WHOLESALER = "WHOLESALER"
    ADMIN = "ADMIN"


ORDER_STATUS = _pg_enum(OrderStatus, "order_status")
OFFER_STATUS = _pg_enum(OfferStatus, "offer_status")
RESERVATION_STATUS = _pg_enum(ReservationStatus, "reservation_status")
ENTRY_TYPE = _pg_enum(EntryType, "ledger_entry_type")
ADMIN_ROLE = _pg_enum(AdminRole, "admin_role")
LANGUAGE = _pg_enum(Language, "language")
INBOUND_STATUS = _pg_enum(InboundStatus, "inbound_status")
OUTBOUND_STATUS = _pg_enum(OutboundStatus, "outbound_status")
ACTOR_TYPE = _pg_enum(ActorType, "actor_type")
ALL_ENUMS = [
    ORDER_STATUS,
    OFFER_STATUS,
    RESERVATION_STATUS,
    ENTRY_TYPE,
    ADMIN_ROLE,
    LANGUAGE,
    INBOUND_STATUS,
    OUTBOUND_STATUS,
    ACTOR_TYPE,
]


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Timestamped:
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class SoftDelete:
    """User-facing rows are never deleted, only marked; ordinary queries see live rows only
    (see `db.session`: the criteria hook), `include_deleted=True` shows the rest."""

    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def _id() -> Any:
    return mapped_column(BigInteger, Identity(), primary_key=True)


def _fk(target: str, *, nullable: bool = False, index: bool = True) -> Any:
    # Every foreign key is indexed (joins, RESTRICT checks); index=False only where a composite
    # index already leads with this column. `thok db verify` checks that none is left bare.
    return mapped_column(BigInteger, ForeignKey(target, ondelete="RESTRICT"), nullable=nullable, index=index)


# --- parties -------------------------------------------------------------------------------------


class Retailer(Timestamped, SoftDelete, Base):
    __tablename__ = "retailers"
    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(200))
    shop_name: Mapped[str | None] = mapped_column(String(200))
    whatsapp_number: Mapped[str] = mapped_column(String(20))  # E.164
    district: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(Text)
    language: Mapped[Language | None] = mapped_column(LANGUAGE)  # None: answer in the message's script
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    reminders_stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # replied STOP

    credit_account: Mapped[CreditAccount | None] = relationship(back_populates="retailer", uselist=False)

    __table_args__ = (
        CheckConstraint("whatsapp_number ~ '^\\+[1-9][0-9]{6,14}$'", name="whatsapp_e164"),
        Index(
            "uq_retailers_whatsapp_number_live",
            "whatsapp_number",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_retailers_district_live", "district", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_retailers_created_at", "created_at"),
    )


class Wholesaler(Timestamped, SoftDelete, Base):
    __tablename__ = "wholesalers"
    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(200))
    business_name: Mapped[str | None] = mapped_column(String(200))
    whatsapp_number: Mapped[str] = mapped_column(String(20))
    district: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(Text)
    language: Mapped[Language | None] = mapped_column(LANGUAGE)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    __table_args__ = (
        CheckConstraint("whatsapp_number ~ '^\\+[1-9][0-9]{6,14}$'", name="whatsapp_e164"),
        Index(
            "uq_wholesalers_whatsapp_number_live",
            "whatsapp_number",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_wholesalers_district_live", "district", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_wholesalers_created_at", "created_at"),
    )


class PartyPhone(Base):
    """Who holds a WhatsApp number: one row per live retailer or wholesaler, kept by triggers on
    both tables (migration 0009), so one number can never reach two live parties of either kind.
    Nothing writes it directly; the primary key is the rule."""

    __tablename__ = "party_phones"
    whatsapp_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    party_kind: Mapped[str] = mapped_column(String(20))
    party_id: Mapped[int] = mapped_column(BigInteger)
    claimed_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint("party_kind IN ('retailer', 'wholesaler')", name="party_kind_known"),
        UniqueConstraint("party_kind", "party_id"),
    )


class Admin(Timestamped, SoftDelete, Base):
    __tablename__ = "admins"
    id: Mapped[int] = _id()
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[AdminRole] = mapped_column(ADMIN_ROLE, server_default=AdminRole.ADMIN.value)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        Index("uq_admins_email_live", "email", unique=True, postgresql_where=text("deleted_at IS NULL")),
    )


# --- catalog and stock ---------------------------------------------------------------------------


class Product(Timestamped, SoftDelete, Base):
    __tablename__ = "products"
    id: Mapped[int] = _id()
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_ne: Mapped[str | None] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    unit: Mapped[str] = mapped_column(Text, ForeignKey("units.code"), index=True)  # a row of `units`
    category: Mapped[str | None] = mapped_column(String(100))
    # How much one `unit` holds ("Surf Excel (1kg)": 1 kg a packet), so 5 kg of it is 5 packets.
    pack_size: Mapped[Decimal | None] = mapped_column(Quantity)
    pack_unit: Mapped[str | None] = mapped_column(Text, ForeignKey("units.code"), index=True)

    __table_args__ = (
        CheckConstraint("sku ~ '^[A-Z0-9][A-Z0-9_-]*$'", name="sku_format"),
        CheckConstraint("(pack_size IS NULL) = (pack_unit IS NULL)", name="pack_size_with_unit"),
        CheckConstraint("pack_size IS NULL OR pack_size > 0", name="pack_size_positive"),
        Index("ix_products_category_live", "category", postgresql_where=text("deleted_at IS NULL")),
    )


class UnitRow(Base):
    """A unit of measure with its spellings and its relation to another (migration 0010); the
    parser's built-in table, parsing/units.py, holds the same rows."""

    __tablename__ = "units"
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name_en: Mapped[str] = mapped_column(Text)
    name_ne: Mapped[str] = mapped_column(Text)
    spellings: Mapped[list[str]] = mapped_column(ARRAY(Text))
    base_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"), index=True)
    factor: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    approximate: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    __table_args__ = (
        CheckConstraint("(base_code IS NULL) = (factor IS NULL)", name="base_with_factor"),
        CheckConstraint("factor IS NULL OR factor > 0", name="factor_positive"),
        CheckConstraint("code = ANY (spellings)", name="code_is_a_spelling"),
    )


class PaymentMethodRow(Base):
    """A way a payment reaches a wholesaler, with its labels and spellings (migration 0012); the
    built-in table, parsing/payment_methods.py, holds the same rows."""

    __tablename__ = "payment_methods"
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    label_en: Mapped[str] = mapped_column(Text)
    label_ne: Mapped[str] = mapped_column(Text)
    spellings: Mapped[list[str]] = mapped_column(ARRAY(Text))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    __table_args__ = (
        CheckConstraint("cardinality(spellings) > 0", name="has_a_spelling"),
        CheckConstraint("code ~ '^[A-Z][A-Z0-9_]*$'", name="code_format"),
    )


class WholesalerProduct(Timestamped, SoftDelete, Base):
    """A wholesaler's price and stock for one product. Available = stock - reserved_stock."""

    __tablename__ = "wholesaler_products"
    id: Mapped[int] = _id()
    wholesaler_id: Mapped[int] = _fk("wholesalers.id")
    product_id: Mapped[int] = _fk("products.id")
    price: Mapped[Decimal] = mapped_column(Money)
    stock: Mapped[Decimal] = mapped_column(Quantity, server_default=text("0"))
    reserved_stock: Mapped[Decimal] = mapped_column(Quantity, server_default=text("0"))
    is_available: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    product: Mapped[Product] = relationship()
    wholesaler: Mapped[Wholesaler] = relationship()

    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_non_negative"),
        CheckConstraint("reserved_stock >= 0 AND reserved_stock <= stock", name="reserved_within_stock"),
        CheckConstraint("price >= 0", name="price_non_negative"),
        Index(
            "uq_wholesaler_products_wholesaler_id_product_id_live",
            "wholesaler_id",
            "product_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # Eligibility: "who sells this product with stock" scans by product.
        Index(
            "ix_wholesaler_products_product_id_live",
            "product_id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )


class StockReservation(Base):
    __tablename__ = "stock_reservations"
    id: Mapped[int] = _id()
    wholesaler_product_id: Mapped[int] = _fk("wholesaler_products.id")
    order_id: Mapped[int] = _fk("orders.id")
    order_item_id: Mapped[int | None] = _fk("order_items.id", nullable=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    status: Mapped[ReservationStatus] = mapped_column(RESERVATION_STATUS, server_default="ACTIVE")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("(status = 'ACTIVE') = (closed_at IS NULL)", name="closed_when_not_active"),
        # A retried decision job cannot reserve the same line twice.
        Index(
            "uq_stock_reservations_order_id_wholesaler_product_id_active",
            "order_id",
            "wholesaler_product_id",
            unique=True,
            postgresql_where=text("status = 'ACTIVE'"),
        ),
        Index(
            "ix_stock_reservations_expires_at_active",
            "expires_at",
            postgresql_where=text("status = 'ACTIVE'"),
        ),
    )


# --- orders and offers ---------------------------------------------------------------------------


class Order(Timestamped, SoftDelete, Base):
    __tablename__ = "orders"
    id: Mapped[int] = _id()
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    retailer_id: Mapped[int] = _fk("retailers.id", index=False)
    final_wholesaler_id: Mapped[int | None] = _fk("wholesalers.id", nullable=True, index=False)
    status: Mapped[OrderStatus] = mapped_column(ORDER_STATUS, server_default="PENDING_OFFERS")
    estimated_total: Mapped[Decimal | None] = mapped_column(Money)
    final_total: Mapped[Decimal | None] = mapped_column(Money)
    delivery_district: Mapped[str | None] = mapped_column(String(100))
    offer_window_closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accept_deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_reason: Mapped[str | None] = mapped_column(Text)

    retailer: Mapped[Retailer] = relationship()
    items: Mapped[list[OrderItem]] = relationship(back_populates="order", order_by="OrderItem.id")
    offers: Mapped[list[VendorOffer]] = relationship(back_populates="order", order_by="VendorOffer.id")

    __table_args__ = (
        CheckConstraint("ref ~ '^TK-[0-9A-Z]{4,8}$'", name="ref_format"),
        # From selection on, an order has its one wholesaler.
        CheckConstraint(
            "final_wholesaler_id IS NOT NULL OR status NOT IN "
            "('WHOLESALER_SELECTED', 'CONFIRMED', 'DISPATCHED', 'DELIVERED')",
            name="winner_when_selected",
        ),
        CheckConstraint(
            "estimated_total IS NULL OR estimated_total >= 0", name="estimated_total_non_negative"
        ),
        CheckConstraint("final_total IS NULL OR final_total >= 0", name="final_total_non_negative"),
        Index("ix_orders_status_created_at", "status", "created_at"),
        Index("ix_orders_retailer_id_created_at", "retailer_id", "created_at"),
        Index("ix_orders_final_wholesaler_id_created_at", "final_wholesaler_id", "created_at"),
        Index("ix_orders_created_at", "created_at"),
        # The offer-window sweep looks only at open orders.
        Index(
            "ix_orders_offer_window_closes_at_open",
            "offer_window_closes_at",
            postgresql_where=text("status = 'PENDING_OFFERS' AND deleted_at IS NULL"),
        ),
    )


class OrderItem(Base):
    __tablename__ = "order_items"
    id: Mapped[int] = _id()
    order_id: Mapped[int] = _fk("orders.id", index=False)
    product_id: Mapped[int] = _fk("products.id")
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit: Mapped[str] = mapped_column(Text, ForeignKey("units.code"), index=True)
    estimated_unit_price: Mapped[Decimal | None] = mapped_column(Money)
    raw_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        UniqueConstraint("order_id", "product_id"),
    )


class VendorOffer(Timestamped, Base):
    __tablename__ = "vendor_offers"
    id: Mapped[int] = _id()
    order_id: Mapped[int] = _fk("orders.id", index=False)
    wholesaler_id: Mapped[int] = _fk("wholesalers.id", index=False)
    status: Mapped[OfferStatus] = mapped_column(OFFER_STATUS, server_default="PENDING")
    total_price: Mapped[Decimal] = mapped_column(Money)
    delivery_days: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    score_breakdown: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    invited_at: Mapped[datetime] = _now()
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    order: Mapped[Order] = relationship(back_populates="offers")
    wholesaler: Mapped[Wholesaler] = relationship()

    __table_args__ = (
        CheckConstraint("total_price >= 0", name="total_price_non_negative"),
        CheckConstraint("delivery_days IS NULL OR delivery_days >= 0", name="delivery_days_non_negative"),
        UniqueConstraint("order_id", "wholesaler_id"),
        # Exactly one winner per order, whatever the application does.
        Index(
            "uq_vendor_offers_order_id_won", "order_id", unique=True, postgresql_where=text("status = 'WON'")
        ),
        Index("ix_vendor_offers_wholesaler_id_created_at", "wholesaler_id", "created_at"),
    )


class OrderDraft(Timestamped, Base):
    """A parsed order awaiting the retailer's YES; a new order replaces it."""

    __tablename__ = "order_drafts"
    id: Mapped[int] = _id()
    retailer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("retailers.id", ondelete="CASCADE"), unique=True
    )
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    estimated_total: Mapped[Decimal | None] = mapped_column(Money)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- credit and the khata ------------------------------------------------------------------------

# An advance (a correction beyond the debt, migration 0006) is credit the retailer brings: it widens
# the limit, and a balance is a debt or an advance, never both. NULL limit: no per-wholesaler limit.
HELD_WITHIN_LIMIT = (
    "outstanding >= 0 AND held >= 0 AND (credit_limit IS NULL OR outstanding + held <= credit_limit + advance)"
)
ADVANCE_WITHOUT_DEBT = "advance >= 0 AND (outstanding = 0 OR advance = 0)"


class CreditAccount(Timestamped, Base):
    __tablename__ = "credit_accounts"
    id: Mapped[int] = _id()
    retailer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("retailers.id", ondelete="RESTRICT"), unique=True
    )
    credit_limit: Mapped[Decimal] = mapped_column(Money, server_default=text("0"))
    outstanding: Mapped[Decimal] = mapped_column(Money, server_default=text("0"))
    # Credit promised to confirmed orders not yet debited; counts against the limit (see 0002).
    held: Mapped[Decimal] = mapped_column(Money, server_default=text("0"))
    # What a cancellation returned beyond the debt; the next DEBIT uses it first (migration 0006).
    advance: Mapped[Decimal] = mapped_column(Money, server_default=text("0"))

    retailer: Mapped[Retailer] = relationship(back_populates="credit_account")

    __table_args__ = (
        CheckConstraint("credit_limit >= 0", name="credit_limit_non_negative"),
        CheckConstraint(HELD_WITHIN_LIMIT, name="outstanding_held_within_limit"),
        CheckConstraint(ADVANCE_WITHOUT_DEBT, name="advance_only_without_debt"),
    )


class RetailerWholesalerCredit(Timestamped, Base):
    """What a retailer owes one wholesaler: a row for every pair with a ledger entry, kept by
    ledger_post(); `credit_limit` NULL means no per-wholesaler limit (migration 0006)."""

    __tablename__ = "retailer_wholesaler_credits"
    id: Mapped[int] = _id()
    retailer_id: Mapped[int] = _fk("retailers.id", index=False)
    wholesaler_id: Mapped[int] = _fk("wholesalers.id")
    credit_limit: Mapped[Decimal | None] = mapped_column(Money)
    outstanding: Mapped[Decimal] = mapped_column(Money, server_default=text("0"))
    held: Mapped[Decimal] = mapped_column(Money, server_default=text("0"))
    advance: Mapped[Decimal] = mapped_column(Money, server_default=text("0"))

    __table_args__ = (
        CheckConstraint("credit_limit >= 0", name="credit_limit_non_negative"),
        CheckConstraint(HELD_WITHIN_LIMIT, name="outstanding_held_within_limit"),
        CheckConstraint(ADVANCE_WITHOUT_DEBT, name="advance_only_without_debt"),
        UniqueConstraint("retailer_id", "wholesaler_id"),
    )


class RetailerPayment(Base):
    __tablename__ = "retailer_payments"
    id: Mapped[int] = _id()
    retailer_id: Mapped[int] = _fk("retailers.id", index=False)
    wholesaler_id: Mapped[int | None] = _fk("wholesalers.id", nullable=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    method: Mapped[str] = mapped_column(Text, ForeignKey("payment_methods.code"))  # a PaymentMethod
    reference: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by_admin_id: Mapped[int | None] = _fk("admins.id", nullable=True)
    recorded_by_wholesaler_id: Mapped[int | None] = _fk("wholesalers.id", nullable=True)
    # Paid through a gateway link (migration 0011): the request it settles, at most one payment each.
    payment_request_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("payment_requests.id", ondelete="RESTRICT"), unique=True
    )
    received_at: Mapped[datetime] = _now()
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "recorded_by_admin_id IS NOT NULL OR recorded_by_wholesaler_id IS NOT NULL "
            "OR payment_request_id IS NOT NULL",
            name="recorded_by_someone",
        ),
        # The same eSewa/Khalti/bank reference cannot be booked twice.
        Index(
            "uq_retailer_payments_method_reference",
            "method",
            "reference",
            unique=True,
            postgresql_where=text("reference IS NOT NULL"),
        ),
        Index("ix_retailer_payments_retailer_id_received_at", "retailer_id", "received_at"),
    )


class LedgerEntry(Base):
    """The khata: append-only (triggers reject UPDATE/DELETE/TRUNCATE). No foreign key points *into*
    this table: it is range-partitioned by Nepal month on created_at (migration 0003), so its primary
    key is (id, created_at). The ORM identifies an entry by `id` alone (ids come from one identity,
    so they are unique), which keeps `session.get(LedgerEntry, id)` working.
    Uniqueness that cannot include created_at (the idempotency key, one entry per payment) lives in
    `ledger_idempotency_keys`, written by a trigger in the same transaction."""

    __tablename__ = "ledger_entries"
    id: Mapped[int] = _id()
    entry_type: Mapped[EntryType] = mapped_column(ENTRY_TYPE)
    amount: Mapped[Decimal] = mapped_column(Money)
    retailer_id: Mapped[int] = _fk("retailers.id", index=False)
    wholesaler_id: Mapped[int | None] = _fk("wholesalers.id", nullable=True)
    order_id: Mapped[int | None] = _fk("orders.id", nullable=True)
    payment_id: Mapped[int | None] = _fk("retailer_payments.id", nullable=True, index=False)
    reverses_entry_id: Mapped[int | None] = mapped_column(BigInteger)  # a correction's original entry
    description: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(200))  # unique via ledger_idempotency_keys
    balance_after: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, primary_key=True
    )

    __mapper_args__ = {"primary_key": [id]}  # type: ignore[dict-item]
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # balance_after is the net after the entry: negative is an advance, which only a correction
        # creates (a payment never exceeds the debt); a DEBIT may use part of one (migration 0006).
        CheckConstraint(
            "balance_after >= 0 OR entry_type = 'DEBIT' OR reverses_entry_id IS NOT NULL",
            name="credit_balance_only_from_correction",
        ),
        CheckConstraint("payment_id IS NULL OR entry_type = 'CREDIT'", name="payment_is_credit"),
        CheckConstraint("reverses_entry_id IS NULL OR payment_id IS NULL", name="correction_not_payment"),
        Index("ix_ledger_entries_retailer_id_created_at", "retailer_id", "created_at"),
        # Posting order per retailer (ids are taken under the account lock): last entries, latest balance.
        Index("ix_ledger_entries_retailer_id_id", "retailer_id", "id"),
        Index("ix_ledger_entries_payment_id", "payment_id", postgresql_where=text("payment_id IS NOT NULL")),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )


class LedgerIdempotencyKey(Base):
    """The ledger's global uniqueness, unpartitioned (see LedgerEntry). Append-only; kept when a
    month is archived, so a replayed old event is still recognised."""

    __tablename__ = "ledger_idempotency_keys"
    # The constraint keeps the name the ledger's callers know (errors, tests, metrics).
    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payment_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        PrimaryKeyConstraint("idempotency_key", name="uq_ledger_entries_idempotency_key"),
        # One payment books exactly one CREDIT entry.
        Index(
            "uq_ledger_entries_payment_id",
            "payment_id",
            unique=True,
            postgresql_where=text("payment_id IS NOT NULL"),
        ),
    )


class LedgerCheckpoint(Base):
    """What archived ledger months add up to, per retailer (wholesaler_id NULL) and per retailer and
    wholesaler: the opening balance of the hot ledger. Written by `thok archive`, append-only."""

    __tablename__ = "ledger_checkpoints"
    id: Mapped[int] = _id()
    retailer_id: Mapped[int] = _fk("retailers.id", index=False)
    wholesaler_id: Mapped[int | None] = _fk("wholesalers.id", nullable=True)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # every entry before it is archived
    net: Mapped[Decimal] = mapped_column(Money)  # signed sum of those entries (DEBIT +, CREDIT -)
    balance_after: Mapped[Decimal | None] = mapped_column(Money)  # the last archived entry's (totals only)
    last_entry_id: Mapped[int] = mapped_column(BigInteger)
    entries: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint("entries > 0", name="entries_positive"),
        Index(
            "uq_ledger_checkpoints_retailer_id_wholesaler_id_as_of",
            "retailer_id",
            "wholesaler_id",
            "as_of",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )


# --- audit ---------------------------------------------------------------------------------------


class AdminSession(Base):
    """One dashboard sign-in, looked up on every request (dashboard/auth.py): the cookie carries a
    random token, the row its SHA-256, so signing out, deactivating the admin or changing their
    password revokes it on the server and a copied cookie stops working (migration 0008)."""

    __tablename__ = "admin_sessions"
    id: Mapped[int] = _id()
    admin_id: Mapped[int] = _fk("admins.id")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("expires_at > created_at", name="expires_after_created"),)


class LoginFailure(Base):
    """A refused dashboard sign-in: a wrong email or password, or the start of a lockout. No admin
    id: the email may belong to nobody, and the point is who tried it from where."""

    __tablename__ = "login_failures"
    id: Mapped[int] = _id()
    email: Mapped[str] = mapped_column(String(254))
    client_ip: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint("outcome IN ('FAILED', 'LOCKED')", name="outcome_known"),
        Index("ix_login_failures_created_at", "created_at"),
        Index("ix_login_failures_email", "email"),
    )


class AdminAuditLog(Base):
    __tablename__ = "admin_audit_logs"
    id: Mapped[int] = _id()
    admin_id: Mapped[int] = _fk("admins.id")
    action: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(100))
    entity_id: Mapped[str | None] = mapped_column(String(100))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        Index("ix_admin_audit_logs_entity_type_entity_id", "entity_type", "entity_id"),
        Index("ix_admin_audit_logs_created_at", "created_at"),
    )


class AuditLog(Base):
    """Who moved an order (or a retailer's record) and why."""

    __tablename__ = "audit_logs"
    id: Mapped[int] = _id()
    retailer_id: Mapped[int | None] = _fk("retailers.id", nullable=True, index=False)
    order_id: Mapped[int | None] = _fk("orders.id", nullable=True, index=False)
    actor_type: Mapped[ActorType] = mapped_column(ACTOR_TYPE)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(100))
    from_status: Mapped[str | None] = mapped_column(String(40))
    to_status: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        Index("ix_audit_logs_order_id_created_at", "order_id", "created_at"),
        Index("ix_audit_logs_retailer_id_created_at", "retailer_id", "created_at"),
    )


class DecisionConflictLog(Base):
    __tablename__ = "decision_conflict_logs"
    id: Mapped[int] = _id()
    order_id: Mapped[int] = _fk("orders.id")
    existing_wholesaler_id: Mapped[int | None] = _fk("wholesalers.id", nullable=True)
    attempted_wholesaler_id: Mapped[int | None] = _fk("wholesalers.id", nullable=True)
    source: Mapped[str] = mapped_column(String(100))  # e.g. "worker:close_offer_window", "admin:7"
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ix_decision_conflict_logs_created_at", "created_at"),)


# --- WhatsApp messages ---------------------------------------------------------------------------


class InboundMessage(Base):
    __tablename__ = "inbound_messages"
    id: Mapped[int] = _id()
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)  # Twilio's; a redelivery collides here
    from_number: Mapped[str] = mapped_column(String(40))
    to_number: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text, server_default="")
    wa_id: Mapped[str | None] = mapped_column(String(40))
    profile_name: Mapped[str | None] = mapped_column(String(200))
    num_media: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    media_urls: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    button_payload: Mapped[str | None] = mapped_column(Text)
    button_text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[InboundStatus] = mapped_column(INBOUND_STATUS, server_default="PENDING")
    retailer_id: Mapped[int | None] = _fk("retailers.id", nullable=True)
    wholesaler_id: Mapped[int | None] = _fk("wholesalers.id", nullable=True)
    intent: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = _now()
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("num_media >= 0", name="num_media_non_negative"),
        # The sweep re-enqueues what Redis never got; it looks only at unfinished rows.
        Index(
            "ix_inbound_messages_status_received_at_open",
            "status",
            "received_at",
            postgresql_where=text("status IN ('PENDING', 'QUEUED')"),
        ),
        # The 24-hour window: a number's last message.
        Index("ix_inbound_messages_from_number_received_at", "from_number", "received_at"),
    )


class OutboundMessage(Timestamped, Base):
    __tablename__ = "outbound_messages"
    id: Mapped[int] = _id()
    to_number: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40), server_default="reply")
    status: Mapped[OutboundStatus] = mapped_column(OUTBOUND_STATUS, server_default="PENDING")
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)  # a re-run job writes no 2nd reply
    provider_sid: Mapped[str | None] = mapped_column(String(64))
    content_sid: Mapped[str | None] = mapped_column(String(64))
    content_variables: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    media_url: Mapped[str | None] = mapped_column(Text)  # a document sent with the text (a PDF statement)
    in_reply_to_id: Mapped[int | None] = _fk("inbound_messages.id", nullable=True)
    order_id: Mapped[int | None] = _fk("orders.id", nullable=True)
    retailer_id: Mapped[int | None] = _fk("retailers.id", nullable=True)
    wholesaler_id: Mapped[int | None] = _fk("wholesalers.id", nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error_code: Mapped[str | None] = mapped_column(String(20))
    error_message: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index(
            "uq_outbound_messages_provider_sid",
            "provider_sid",
            unique=True,
            postgresql_where=text("provider_sid IS NOT NULL"),
        ),
        Index(  # in the drain's claim order: a plain index scan, no sort (migration 0014)
            "ix_outbound_messages_status_created_at_id_open",
            "status",
            "created_at",
            "id",
            postgresql_where=text("status IN ('PENDING', 'SENDING', 'FAILED', 'UNDELIVERED')"),
        ),
        Index("ix_outbound_messages_to_number_created_at", "to_number", "created_at"),
    )


PAYMENT_REQUEST_STATUSES = ("OPEN", "COMPLETED", "FAILED", "EXPIRED", "CANCELLED", "REVIEW")


class PaymentRequest(Timestamped, Base):
    """A link a retailer pays their khata through (Khalti, eSewa; migration 0011): what was asked,
    which gateway they chose, and what the gateway said. COMPLETED has exactly one payment
    (`retailer_payments.payment_request_id`); REVIEW is money the gateway took that Thok could not
    book by itself (a different amount, more than is owed now): a person looks at it."""

    __tablename__ = "payment_requests"
    id: Mapped[int] = _id()
    token: Mapped[str] = mapped_column(String(40), unique=True)  # in the links; the gateways' order id
    retailer_id: Mapped[int] = _fk("retailers.id")
    wholesaler_id: Mapped[int | None] = _fk("wholesalers.id", nullable=True)  # None: Thok overall
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), server_default="NPR")
    gateway: Mapped[str | None] = mapped_column(String(20))  # chosen when the link is opened
    status: Mapped[str] = mapped_column(String(20), server_default="OPEN")
    gateway_ref: Mapped[str | None] = mapped_column(String(100))  # Khalti's pidx
    gateway_url: Mapped[str | None] = mapped_column(Text)  # Khalti's payment_url, reused until it expires
    gateway_status: Mapped[str | None] = mapped_column(String(40))  # the gateway's last word, verbatim
    transaction_ref: Mapped[str | None] = mapped_column(String(100))  # Khalti transaction_id / eSewa ref_id
    note: Mapped[str | None] = mapped_column(Text)  # why FAILED or REVIEW
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("currency = 'NPR'", name="currency_npr"),
        CheckConstraint("gateway IN ('khalti', 'esewa')", name="gateway_known"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in PAYMENT_REQUEST_STATUSES) + ")", name="status_known"
        ),
        CheckConstraint("(status = 'OPEN') = (settled_at IS NULL)", name="settled_when_closed"),
        Index(
            "uq_payment_requests_gateway_gateway_ref",
            "gateway",
            "gateway_ref",
            unique=True,
            postgresql_where=text("gateway_ref IS NOT NULL"),
        ),
        # The lookup job reads the open requests, oldest expiry first.
        Index("ix_payment_requests_expires_at_open", "expires_at", postgresql_where=text("status = 'OPEN'")),
    )


class PaymentReminder(Base):
    """A reminder of money due, decided by the reminder job: SENT (its outbox row) or NOT_SENT and
    why (no template for a shop outside the 24-hour window). One a shop per REMINDER_EVERY_DAYS."""

    __tablename__ = "payment_reminders"
    id: Mapped[int] = _id()
    retailer_id: Mapped[int] = _fk("retailers.id", index=False)
    outstanding: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    outbound_message_id: Mapped[int | None] = _fk("outbound_messages.id", nullable=True)
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint("status IN ('SENT', 'NOT_SENT')", name="status_known"),
        Index("ix_payment_reminders_retailer_id_created_at", "retailer_id", "created_at"),
    )


# --- who a provider says wrote (migration 0013) --------------------------------------------------


class PartyIdentity(Timestamped, Base):
    """A WhatsApp provider's id for a person: the `wa_id` (their number's digits) or Meta's
    business-scoped user id (BSUID, a username user who may hide their number). Recorded when a
    message brings it; linked to a party when the number was theirs, or by an admin (audited). A
    message whose sender has no known number reaches the party its id is linked to."""

    __tablename__ = "party_identities"
    id: Mapped[int] = _id()
    provider: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(160))
    retailer_id: Mapped[int | None] = _fk("retailers.id", nullable=True)
    wholesaler_id: Mapped[int | None] = _fk("wholesalers.id", nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20))  # the number the message came with, if any
    username: Mapped[str | None] = mapped_column(String(100))
    profile_name: Mapped[str | None] = mapped_column(String(200))
    last_seen_at: Mapped[datetime] = _now()
    linked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('wa_id', 'bsuid')", name="kind_known"),
        CheckConstraint("retailer_id IS NULL OR wholesaler_id IS NULL", name="one_party"),
        Index("uq_party_identities_provider_kind_value", "provider", "kind", "value", unique=True),
    )


class InboundMedia(Base):
    """A photo, voice note or document a sender attached, fetched from the provider at once (Meta's
    media ids expire; migration 0013). The inbound row names it among its media_urls."""

    __tablename__ = "inbound_media"
    id: Mapped[int] = _id()
    inbound_id: Mapped[int] = _fk("inbound_messages.id")
    media_id: Mapped[str] = mapped_column(String(200), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    fetched_at: Mapped[datetime] = _now()

    __table_args__ = (CheckConstraint("size_bytes >= 0", name="size_non_negative"),)


SOFT_DELETE_MODELS: tuple[type[Base], ...] = (Retailer, Wholesaler, Admin, Product, WholesalerProduct, Order)
LEDGER_TRIGGERS = (
    "trg_ledger_entries_no_update",
    "trg_ledger_entries_no_delete",
    "trg_ledger_entries_no_truncate",
)
