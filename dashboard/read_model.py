"""The dashboard's read model: every query an admin page runs, set-based and paginated, with the
parsing of its query strings (filters, cursors, dates) and the wording its pages show. It lives next
to the dashboard because nothing else reads it; rules other callers need live in `domain`.

Each list is one SELECT over an index that matches its filter and its ORDER BY (see the indexes in
`db.models`): keyset pagination on (created_at, id) walks the index instead of counting past
OFFSET rows, and totals are capped (`COUNT_CAP`) so a page over a million orders never counts them
all. Names of retailers and wholesalers come from joins, never from one query per row.

Pages show removed (soft-deleted) retailers' and wholesalers' names on old orders, so these
queries opt out of the soft-delete hook and state their own `deleted_at` filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, text, tuple_
from sqlalchemy.orm import Session, aliased

from db.models import (
    Admin,
    AdminAuditLog,
    AuditLog,
    CreditAccount,
    DecisionConflictLog,
    InboundMessage,
    LedgerEntry,
    Order,
    OrderItem,
    OrderStatus,
    OutboundMessage,
    Product,
    Retailer,
    RetailerWholesalerCredit,
    StockReservation,
    VendorOffer,
    Wholesaler,
    WholesalerProduct,
)
from domain.calendar import NEPAL
from domain.errors import InvalidInput, NotFound
from domain.messaging import FAILED_OUTBOUND

PAGE_SIZE = 50
COUNT_CAP = 1000
ALL = {"include_deleted": True}


def nepal_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=NEPAL)


def nepal_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(NEPAL).date()


def parse_day(raw: str | None, what: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(f"{what} {raw!r} is not a date (use YYYY-MM-DD)") from None


# --- pagination ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    next_cursor: str | None  # pass back as `after` for the next (older) page
    total: int  # capped at COUNT_CAP + 1: "1,000+"

    @property
    def total_label(self) -> str:
        return f"{COUNT_CAP:,}+" if self.total > COUNT_CAP else f"{self.total:,}"


def encode_cursor(created_at: datetime, row_id: int) -> str:
    return f"{created_at.isoformat()}~{row_id}"


def decode_cursor(raw: str | None) -> tuple[datetime, int] | None:
    if not raw:
        return None
    try:
        stamp, _, row_id = raw.rpartition("~")
        return datetime.fromisoformat(stamp), int(row_id)
    except ValueError:
        raise InvalidInput("that page link is broken; start again from the first page") from None


def _capped_count(session: Session, stmt: Select[*tuple[Any, ...]]) -> int:
    """How many rows match, but stop counting at COUNT_CAP + 1 (index-only, bounded work)."""
    limited = stmt.with_only_columns(literal(1)).order_by(None).limit(COUNT_CAP + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(limited)) or 0)


def _keyset(
    session: Session, stmt: Select[*tuple[Any, ...]], created: Any, ident: Any, after: str | None, limit: int
) -> Page:
    """Newest first by (created_at, id); `after` continues below the last row shown."""
    total = _capped_count(session, stmt)
    cursor = decode_cursor(after)
    if cursor is not None:
        stmt = stmt.where(tuple_(created, ident) < tuple_(literal(cursor[0]), literal(cursor[1])))
    rows = list(session.execute(stmt.order_by(created.desc(), ident.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return Page(rows, next_cursor, total)


# --- overview ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    orders_today: int
    gmv_today: Decimal
    fill_rate: float | None  # delivered / confirmed, orders of the last 30 days
    offers_per_order: float | None  # answered offers per order, last 7 days
    median_minutes_to_winner: float | None  # last 7 days
    failed_messages: int
    days: list[tuple[date, int, Decimal]] = field(default_factory=list)  # (day, orders, GMV)


# One index range scan over the month: the daily series and the fill rate's counts together.
_MONTH = text(
    """
    SELECT d::date AS day, coalesce(o.orders, 0) AS orders, coalesce(o.gmv, 0) AS gmv,
           coalesce(o.confirmed, 0) AS confirmed, coalesce(o.delivered, 0) AS delivered
    FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d
    LEFT JOIN (
        SELECT (created_at AT TIME ZONE 'Asia/Kathmandu')::date AS day,
               count(*) AS orders,
               sum(final_total) FILTER (WHERE status IN ('CONFIRMED', 'DISPATCHED', 'DELIVERED')) AS gmv,
               count(*) FILTER (WHERE confirmed_at IS NOT NULL) AS confirmed,
               count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered
        FROM orders
        WHERE created_at >= :lo AND created_at < :hi AND deleted_at IS NULL
        GROUP BY 1
    ) o ON o.day = d::date
    ORDER BY d
    """
)

# The week's decisions. Offers are counted per order through the (order_id, wholesaler_id) index:
# a join would read all of vendor_offers (3 rows per order, with their score JSON) to find them.
_WEEK = text(
    """
    SELECT count(*) AS orders,
           sum((SELECT count(*) FROM vendor_offers v
                WHERE v.order_id = o.id AND v.responded_at IS NOT NULL AND v.status <> 'PASSED')) AS offers,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - created_at))
               FILTER (WHERE decided_at IS NOT NULL) AS median_secs
    FROM orders o
    WHERE created_at >= :lo AND deleted_at IS NULL
    """
)


def overview(session: Session, now: datetime | None = None, days: int = 30) -> Overview:
    today = nepal_today(now)
    first = today - timedelta(days=days - 1)
    lo, hi = nepal_midnight(first), nepal_midnight(today + timedelta(days=1))
    month = list(session.execute(_MONTH, {"first": first, "last": today, "lo": lo, "hi": hi}))
    week = session.execute(_WEEK, {"lo": nepal_midnight(today - timedelta(days=6))}).one()
    failed = _capped_count(session, select(OutboundMessage.id).where(OutboundMessage.status.in_(FAILED_OUTBOUND)))
    confirmed = sum(int(r.confirmed) for r in month)
    delivered = sum(int(r.delivered) for r in month)
    series = [(r.day, int(r.orders), Decimal(r.gmv)) for r in month]
    last = series[-1] if series else (today, 0, Decimal(0))
    return Overview(
        orders_today=last[1],
        gmv_today=last[2],
        fill_rate=(delivered / confirmed) if confirmed else None,
        offers_per_order=(int(week.offers or 0) / week.orders) if week.orders else None,
        median_minutes_to_winner=float(week.median_secs) / 60 if week.median_secs is not None else None,
        failed_messages=failed,
        days=series,
    )


# --- orders --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilter:
    status: OrderStatus | None = None
    date_from: date | None = None
    date_to: date | None = None
    retailer_id: int | None = None
    wholesaler_id: int | None = None
    ref: str | None = None

    @classmethod
    def parse(cls, args: dict[str, str]) -> OrderFilter:
        """From query-string values; bad values are refused with a message, never ignored."""
        status = (args.get("status") or "").strip().upper() or None
        if status is not None and status not in OrderStatus.__members__:
            raise InvalidInput(f"unknown status {status!r}")
        start, end = parse_day(args.get("from"), "from"), parse_day(args.get("to"), "to")
        if start and end and end < start:
            raise InvalidInput(f"the range ends ({end}) before it starts ({start})")
        return cls(
            status=OrderStatus(status) if status else None,
            date_from=start,
            date_to=end,
            retailer_id=_int_arg(args.get("retailer_id"), "retailer"),
            wholesaler_id=_int_arg(args.get("wholesaler_id"), "wholesaler"),
            ref=(args.get("ref") or "").strip().upper() or None,
        )


def _int_arg(raw: str | None, what: str) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{what} {raw!r} is not an id") from None


def list_orders(session: Session, flt: OrderFilter, after: str | None = None, limit: int = PAGE_SIZE) -> Page:
    w = aliased(Wholesaler)
    offers = (
        select(func.count())
        .where(VendorOffer.order_id == Order.id, VendorOffer.responded_at.is_not(None))
        .correlate(Order)
        .scalar_subquery()
    )
    stmt = (
        select(
            Order.id,
            Order.ref,
            Order.created_at,
            Order.status,
            Order.estimated_total,
            Order.final_total,
            Order.retailer_id,
            Order.final_wholesaler_id,
            func.coalesce(Retailer.shop_name, Retailer.name).label("retailer_name"),
            func.coalesce(w.business_name, w.name).label("wholesaler_name"),
            offers.label("offers"),
        )
        .join(Retailer, Retailer.id == Order.retailer_id)
        .outerjoin(w, w.id == Order.final_wholesaler_id)
        .where(Order.deleted_at.is_(None))
        .execution_options(**ALL)
    )
    conditions: list[ColumnElement[bool]] = []
    if flt.status is not None:
        conditions.append(Order.status == flt.status)
    if flt.date_from is not None:
        conditions.append(Order.created_at >= nepal_midnight(flt.date_from))
    if flt.date_to is not None:
        conditions.append(Order.created_at < nepal_midnight(flt.date_to + timedelta(days=1)))
    if flt.retailer_id is not None:
        conditions.append(Order.retailer_id == flt.retailer_id)
    if flt.wholesaler_id is not None:
        conditions.append(Order.final_wholesaler_id == flt.wholesaler_id)
    if flt.ref:
        conditions.append(Order.ref == flt.ref)
    if conditions:
        stmt = stmt.where(and_(*conditions))
    return _keyset(session, stmt, Order.created_at, Order.id, after, limit)


@dataclass
class OrderDetail:
    order: Order
    retailer: Retailer
    wholesaler: Wholesaler | None
    items: list[Any]
    offers: list[Any]
    history: list[AuditLog]
    conflicts: list[Any]
    reservations: list[Any]
    ledger: list[LedgerEntry]
    messages: list[dict[str, Any]]


CONVERSATION_LIMIT = 100


def order_detail(session: Session, order_id: int) -> OrderDetail:
    order = session.scalars(select(Order).where(Order.id == order_id).execution_options(**ALL)).first()
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    retailer = session.scalars(select(Retailer).where(Retailer.id == order.retailer_id).execution_options(**ALL)).one()
    winner = None
    if order.final_wholesaler_id is not None:
        winner = session.scalars(
            select(Wholesaler).where(Wholesaler.id == order.final_wholesaler_id).execution_options(**ALL)
        ).one()
    items = list(
        session.execute(
            select(OrderItem, Product.sku, Product.name, Product.name_ne)
            .join(Product, Product.id == OrderItem.product_id)
            .where(OrderItem.order_id == order.id)
            .order_by(OrderItem.id)
            .execution_options(**ALL)
        )
    )
    offers = list(
        session.execute(
            select(VendorOffer, func.coalesce(Wholesaler.business_name, Wholesaler.name).label("wholesaler_name"))
            .join(Wholesaler, Wholesaler.id == VendorOffer.wholesaler_id)
            .where(VendorOffer.order_id == order.id)
            .order_by(VendorOffer.score.desc().nulls_last(), VendorOffer.total_price, VendorOffer.id)
            .execution_options(**ALL)
        )
    )
    history = list(
        session.scalars(
            select(AuditLog).where(AuditLog.order_id == order.id).order_by(AuditLog.created_at, AuditLog.id)
        )
    )
    existing, attempted = aliased(Wholesaler), aliased(Wholesaler)
    conflicts = list(
        session.execute(
            select(
                DecisionConflictLog,
                func.coalesce(existing.business_name, existing.name).label("existing_name"),
                func.coalesce(attempted.business_name, attempted.name).label("attempted_name"),
            )
            .outerjoin(existing, existing.id == DecisionConflictLog.existing_wholesaler_id)
            .outerjoin(attempted, attempted.id == DecisionConflictLog.attempted_wholesaler_id)
            .where(DecisionConflictLog.order_id == order.id)
            .order_by(DecisionConflictLog.id)
            .execution_options(**ALL)
        )
    )
    reservations = list(
        session.execute(
            select(StockReservation, Product.sku, Product.name)
            .join(WholesalerProduct, WholesalerProduct.id == StockReservation.wholesaler_product_id)
            .join(Product, Product.id == WholesalerProduct.product_id)
            .where(StockReservation.order_id == order.id)
            .order_by(StockReservation.id)
            .execution_options(**ALL)
        )
    )
    ledger = list(session.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order.id).order_by(LedgerEntry.id)))
    numbers = [retailer.whatsapp_number] + ([winner.whatsapp_number] if winner else [])
    return OrderDetail(
        order,
        retailer,
        winner,
        items,
        offers,
        history,
        conflicts,
        reservations,
        ledger,
        order_conversation(session, order, numbers),
    )


# The retailer's messages that make a draft (handlers.dispatch records the intent on each).
DRAFT_BUILDING_INTENTS = ("order", "choose", "reorder")
DRAFT_LOOKBACK = timedelta(hours=2)


def order_conversation(session: Session, order: Order, numbers: list[str]) -> list[dict[str, Any]]:
    """This order's WhatsApp thread, not the parties' whole chat: every message sent about it
    (outbound rows carry the order), the messages those answered (a reply points at its inbound),
    and the retailer's messages that built the draft it was placed from (its order lines and
    numbered choices since their previous order, within the draft's lifetime)."""
    about = select(OutboundMessage.in_reply_to_id).where(
        OutboundMessage.order_id == order.id, OutboundMessage.in_reply_to_id.is_not(None)
    )
    previous = (
        select(func.max(Order.created_at))
        .where(Order.retailer_id == order.retailer_id, Order.created_at < order.created_at)
        .scalar_subquery()
    )
    drafting = and_(
        InboundMessage.from_number == numbers[0],
        InboundMessage.intent.in_(DRAFT_BUILDING_INTENTS),
        InboundMessage.received_at.between(order.created_at - DRAFT_LOOKBACK, order.created_at),
        InboundMessage.received_at > func.coalesce(previous, order.created_at - DRAFT_LOOKBACK),
    )
    inbound = list(
        session.execute(
            select(
                InboundMessage.id,
                InboundMessage.from_number,
                InboundMessage.body,
                InboundMessage.received_at,
                InboundMessage.status,
                InboundMessage.intent,
            )
            .where(or_(InboundMessage.id.in_(about), drafting))
            .order_by(InboundMessage.received_at)
            .limit(CONVERSATION_LIMIT)
        )
    )
    inbound_ids = [r.id for r in inbound]
    outbound = session.execute(
        select(
            OutboundMessage.id,
            OutboundMessage.to_number,
            OutboundMessage.body,
            OutboundMessage.created_at,
            OutboundMessage.status,
            OutboundMessage.kind,
            OutboundMessage.error_message,
        )
        .where(or_(OutboundMessage.order_id == order.id, OutboundMessage.in_reply_to_id.in_(inbound_ids)))
        .order_by(OutboundMessage.created_at)
        .limit(CONVERSATION_LIMIT)
    )
    merged = [
        {
            "direction": "in",
            "number": r.from_number,
            "body": r.body,
            "at": r.received_at,
            "status": r.status.value,
            "note": r.intent,
        }
        for r in inbound
    ] + [
        {
            "direction": "out",
            "number": r.to_number,
            "body": r.body,
            "at": r.created_at,
            "status": r.status.value,
            "note": r.error_message or r.kind,
        }
        for r in outbound
    ]
    merged.sort(key=lambda m: m["at"])
    return merged


# --- parties and catalog -------------------------------------------------------------------------


def _search_condition(q: str, *columns: Any) -> ColumnElement[bool]:
    needle = q.strip()
    digits = "".join(ch for ch in needle if ch.isdigit())
    parts: list[ColumnElement[bool]] = [c.icontains(needle, autoescape=True) for c in columns[:-1]]
    if len(digits) >= 3:
        parts.append(columns[-1].contains(digits))  # the phone: any run of its digits
    return or_(*parts)


def list_retailers(
    session: Session, q: str = "", deleted: bool = False, page: int = 1, limit: int = PAGE_SIZE
) -> tuple[list[Any], bool]:
    """Retailers with their credit, newest first; `deleted=True` lists the removed ones instead.
    Returns the rows and whether there is a next page (the parties tables are small)."""
    stmt = (
        select(Retailer, CreditAccount.credit_limit, CreditAccount.outstanding, CreditAccount.held)
        .outerjoin(CreditAccount, CreditAccount.retailer_id == Retailer.id)
        .where(Retailer.deleted_at.is_not(None) if deleted else Retailer.deleted_at.is_(None))
        .execution_options(**ALL)
    )
    if q.strip():
        stmt = stmt.where(_search_condition(q, Retailer.name, Retailer.shop_name, Retailer.whatsapp_number))
    return _offset_page(session, stmt.order_by(Retailer.id.desc()), page, limit)


def list_wholesalers(
    session: Session, q: str = "", deleted: bool = False, page: int = 1, limit: int = PAGE_SIZE
) -> tuple[list[Any], bool]:
    products = (
        select(func.count())
        .where(WholesalerProduct.wholesaler_id == Wholesaler.id, WholesalerProduct.deleted_at.is_(None))
        .correlate(Wholesaler)
        .scalar_subquery()
    )
    stmt = (
        select(Wholesaler, products.label("products"))
        .where(Wholesaler.deleted_at.is_not(None) if deleted else Wholesaler.deleted_at.is_(None))
        .execution_options(**ALL)
    )
    if q.strip():
        stmt = stmt.where(_search_condition(q, Wholesaler.name, Wholesaler.business_name, Wholesaler.whatsapp_number))
    return _offset_page(session, stmt.order_by(Wholesaler.id.desc()), page, limit)


def _offset_page(session: Session, stmt: Select[*tuple[Any, ...]], page: int, limit: int) -> tuple[list[Any], bool]:
    page = max(1, page)
    rows = list(session.execute(stmt.offset((page - 1) * limit).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def wholesaler_catalog(session: Session, wholesaler_id: int, q: str = "") -> list[Any]:
    """A wholesaler's live price list (one row per product they carry; a few hundred at most)."""
    stmt = (
        select(WholesalerProduct, Product.sku, Product.name, Product.name_ne, Product.unit)
        .join(Product, Product.id == WholesalerProduct.product_id)
        .where(WholesalerProduct.wholesaler_id == wholesaler_id)
        .order_by(Product.sku)
    )
    if q.strip():
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(Product.sku.ilike(like), Product.name.ilike(like), Product.name_ne.ilike(like)))
    return list(session.execute(stmt))


def wholesaler_credit_limits(session: Session, retailer_id: int) -> list[Any]:
    return list(
        session.execute(
            select(
                RetailerWholesalerCredit,
                func.coalesce(Wholesaler.business_name, Wholesaler.name).label("wholesaler_name"),
            )
            .join(Wholesaler, Wholesaler.id == RetailerWholesalerCredit.wholesaler_id)
            .where(RetailerWholesalerCredit.retailer_id == retailer_id)
            .order_by(RetailerWholesalerCredit.wholesaler_id)
            .execution_options(**ALL)
        )
    )


def wholesaler_choices(session: Session, limit: int = 500) -> list[tuple[int, str]]:
    """Live wholesalers for a <select> (a market has tens, not thousands)."""
    rows = session.execute(
        select(Wholesaler.id, func.coalesce(Wholesaler.business_name, Wholesaler.name))
        .order_by(Wholesaler.name)
        .limit(limit)
    )
    return [(int(r[0]), str(r[1])) for r in rows]


# --- the khata -----------------------------------------------------------------------------------


def khata_page(session: Session, retailer_id: int, before_id: int | None = None, limit: int = PAGE_SIZE) -> Page:
    """Ledger entries newest first, each with its running balance (`balance_after`, written under
    the account lock when it was posted), keyset on the (retailer_id, id) index."""
    stmt = (
        select(LedgerEntry, Order.ref.label("order_ref"), LedgerEntry.id.label("id"))
        .outerjoin(Order, Order.id == LedgerEntry.order_id)
        .where(LedgerEntry.retailer_id == retailer_id)
        .execution_options(**ALL)
    )
    if before_id is not None:
        stmt = stmt.where(LedgerEntry.id < before_id)
    rows = list(session.execute(stmt.order_by(LedgerEntry.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, str(rows[-1].id) if more and rows else None, len(rows))


# --- audit and messages --------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    admin_email: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def parse(cls, args: dict[str, str]) -> AuditFilter:
        def clean(name: str) -> str | None:
            return (args.get(name) or "").strip() or None

        return cls(
            action=clean("action"),
            entity_type=clean("entity_type"),
            entity_id=clean("entity_id"),
            admin_email=(clean("admin") or "").lower() or None,
            date_from=parse_day(args.get("from"), "from"),
            date_to=parse_day(args.get("to"), "to"),
        )

    def range(self, column: Any) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.date_from:
            out.append(column >= nepal_midnight(self.date_from))
        if self.date_to:
            out.append(column < nepal_midnight(self.date_to + timedelta(days=1)))
        return out


def admin_audit(session: Session, flt: AuditFilter, after: str | None = None, limit: int = PAGE_SIZE) -> Page:
    stmt = (
        select(AdminAuditLog, Admin.email, AdminAuditLog.id.label("id"), AdminAuditLog.created_at.label("created_at"))
        .join(Admin, Admin.id == AdminAuditLog.admin_id)
        .execution_options(**ALL)
    )
    conditions = flt.range(AdminAuditLog.created_at)
    if flt.action:
        conditions.append(AdminAuditLog.action.startswith(flt.action, autoescape=True))
    if flt.entity_type:
        conditions.append(AdminAuditLog.entity_type == flt.entity_type)
    if flt.entity_id:
        conditions.append(AdminAuditLog.entity_id == flt.entity_id)
    if flt.admin_email:
        conditions.append(Admin.email == flt.admin_email)
    if conditions:
        stmt = stmt.where(and_(*conditions))
    return _keyset(session, stmt, AdminAuditLog.created_at, AdminAuditLog.id, after, limit)


def decision_conflicts(
    session: Session, flt: AuditFilter, order_ref: str | None = None, after: str | None = None, limit: int = PAGE_SIZE
) -> Page:
    existing, attempted = aliased(Wholesaler), aliased(Wholesaler)
    stmt = (
        select(
            DecisionConflictLog,
            Order.ref,
            func.coalesce(existing.business_name, existing.name).label("existing_name"),
            func.coalesce(attempted.business_name, attempted.name).label("attempted_name"),
            DecisionConflictLog.id.label("id"),
            DecisionConflictLog.created_at.label("created_at"),
        )
        .join(Order, Order.id == DecisionConflictLog.order_id)
        .outerjoin(existing, existing.id == DecisionConflictLog.existing_wholesaler_id)
        .outerjoin(attempted, attempted.id == DecisionConflictLog.attempted_wholesaler_id)
        .execution_options(**ALL)
    )
    conditions = flt.range(DecisionConflictLog.created_at)
    if order_ref:
        conditions.append(Order.ref == order_ref.strip().upper())
    if flt.action:  # on this list the "action" box filters the source ("admin:", "worker:")
        conditions.append(DecisionConflictLog.source.startswith(flt.action, autoescape=True))
    if conditions:
        stmt = stmt.where(and_(*conditions))
    return _keyset(session, stmt, DecisionConflictLog.created_at, DecisionConflictLog.id, after, limit)


def failed_outbound(session: Session, after: str | None = None, limit: int = PAGE_SIZE) -> Page:
    """FAILED / UNDELIVERED messages, on the partial index of unfinished and failed rows."""
    stmt = select(
        OutboundMessage.id,
        OutboundMessage.created_at,
        OutboundMessage.to_number,
        OutboundMessage.body,
        OutboundMessage.kind,
        OutboundMessage.status,
        OutboundMessage.attempts,
        OutboundMessage.error_code,
        OutboundMessage.error_message,
        OutboundMessage.order_id,
    ).where(OutboundMessage.status.in_(FAILED_OUTBOUND))
    return _keyset(session, stmt, OutboundMessage.created_at, OutboundMessage.id, after, limit)


def admin_by_id(session: Session, admin_id: int) -> Admin | None:
    """The signed-in admin, if still live and active (a removed admin's session ends)."""
    return session.scalars(select(Admin).where(Admin.id == admin_id, Admin.is_active.is_(True))).first()
