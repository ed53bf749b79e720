"""A retailer's statement: the entries between two Nepal dates after an opening balance, and the
statement for one Bikram Sambat month, as shops keep the khata: who, the month, opening balance,
the entries with BS dates, closing balance. Rendered by `statement_csv` and `statement_pdf`.

A BS month is two Gregorian part-months (Mangsir 2083 = 17 Nov - 15 Dec 2026): the rows are
`statement_rows` over its first to last Gregorian day in Nepal, so the ledger's monthly
partitions stay Gregorian and a statement reads at most two of them (docs/scale.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from db.models import EntryType, LedgerCheckpoint, LedgerEntry, Order, Retailer, RetailerWholesalerCredit, Wholesaler
from domain.calendar import NEPAL, BsMonth
from domain.credit import account_balance
from domain.errors import InvalidInput, NotFound
from domain.ledger import balance_before
from domain.parties import PartyKind

ZERO = Decimal(0)


@dataclass(frozen=True)
class StatementRow:
    when: datetime | None  # None for the opening balance
    entry_type: str
    description: str
    order_ref: str | None
    debit: Decimal | None
    credit: Decimal | None
    balance: Decimal


def _nepal_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=NEPAL)


def statement_rows(session: Session, retailer_id: int, start: date, end: date) -> list[StatementRow]:
    """Entries from `start` to `end` inclusive (Nepal dates), after an opening-balance row."""
    if end < start:
        raise InvalidInput(f"the statement ends ({end}) before it starts ({start})")
    lo, hi = _nepal_midnight(start), _nepal_midnight(end + timedelta(days=1))
    archived = session.execute(
        text("SELECT max(period) FROM archive.manifest WHERE kind = 'ledger'")
    ).scalar()  # months before the hot ledger (`thok archive`)
    if archived is not None and lo < _nepal_midnight(_next_month(archived)):
        return _archived_statement_rows(session, retailer_id, start, lo, hi)
    # Plain columns, not ORM entities: a month can hold dozens of entries and this is read-only.
    result = session.execute(
        select(
            LedgerEntry.created_at,
            LedgerEntry.entry_type,
            LedgerEntry.description,
            Order.ref,
            LedgerEntry.amount,
            LedgerEntry.balance_after,
        )
        .outerjoin(Order, Order.id == LedgerEntry.order_id)
        .where(LedgerEntry.retailer_id == retailer_id, LedgerEntry.created_at >= lo, LedgerEntry.created_at < hi)
        .order_by(LedgerEntry.id)
        .execution_options(include_deleted=True)
    ).all()
    if result:
        # Each entry's balance_after is the one before it moved by its amount: the first entry of
        # the period gives the opening balance, with no look into earlier months.
        first = result[0]
        opening = first.balance_after - (first.amount if first.entry_type is EntryType.DEBIT else -first.amount)
    else:
        opening = _balance_before(session, retailer_id, lo, archived is not None)
    rows = [StatementRow(None, "OPENING", f"Opening balance on {start}", None, None, None, opening)]
    for created_at, entry_type, description, ref, amount, balance_after in result:
        is_debit = entry_type is EntryType.DEBIT
        rows.append(
            StatementRow(
                created_at,
                entry_type.value,
                description,
                ref,
                amount if is_debit else None,
                None if is_debit else amount,
                balance_after,
            )
        )
    return rows


def _balance_before(session: Session, retailer_id: int, moment: datetime, archived: bool) -> Decimal:
    """What the retailer owed just before `moment`: the last entry before it, or the balance the
    archived months left behind (a checkpoint)."""
    opening = balance_before(session, retailer_id, moment)
    if opening is None and archived:
        opening = session.execute(
            select(LedgerCheckpoint.balance_after)
            .where(LedgerCheckpoint.retailer_id == retailer_id, LedgerCheckpoint.wholesaler_id.is_(None))
            .order_by(LedgerCheckpoint.as_of.desc())
            .limit(1)
        ).scalar()
    if opening is None:
        account_balance(session, retailer_id)  # NotFound for an unknown retailer (checked only here:
        # a retailer with an opening balance exists, and every statement saves a round trip)
    return opening or ZERO


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


# Archived and hot entries together, with order refs from either place; slower, and only for
# statements that reach into archived months.
_ALL_ENTRIES = """
    SELECT id, entry_type::text AS entry_type, amount, retailer_id, order_id, description, balance_after, created_at
    FROM ledger_entries WHERE retailer_id = :r AND created_at < :hi
    UNION ALL
    SELECT id, entry_type::text, amount, retailer_id, order_id, description, balance_after, created_at
    FROM archive.ledger_entries WHERE retailer_id = :r AND created_at < :hi
"""


def _archived_statement_rows(
    session: Session, retailer_id: int, start: date, lo: datetime, hi: datetime
) -> list[StatementRow]:
    params = {"r": retailer_id, "lo": lo, "hi": hi}
    opening = session.execute(
        text(
            f"SELECT balance_after FROM ({_ALL_ENTRIES}) e WHERE created_at < :lo "
            "ORDER BY created_at DESC, id DESC LIMIT 1"
        ),
        params,
    ).scalar()
    has_archived_orders = session.execute(text("SELECT to_regclass('archive.orders') IS NOT NULL")).scalar()
    refs = (
        "LEFT JOIN (SELECT id, ref FROM orders UNION ALL SELECT id, ref FROM archive.orders) o ON o.id = e.order_id"
        if has_archived_orders
        else "LEFT JOIN orders o ON o.id = e.order_id"
    )
    found = session.execute(
        text(f"SELECT e.*, o.ref FROM ({_ALL_ENTRIES}) e {refs} WHERE e.created_at >= :lo ORDER BY e.id"), params
    )
    if opening is None:
        account_balance(session, retailer_id)  # NotFound for an unknown retailer (checked only here:
        # a retailer with an opening balance exists, and every statement saves a round trip)
    rows = [StatementRow(None, "OPENING", f"Opening balance on {start}", None, None, None, opening or ZERO)]
    for e in found:
        is_debit = e.entry_type == EntryType.DEBIT.value
        rows.append(
            StatementRow(
                e.created_at,
                e.entry_type,
                e.description,
                e.ref,
                e.amount if is_debit else None,
                None if is_debit else e.amount,
                e.balance_after,
            )
        )
    return rows


@dataclass(frozen=True)
class MonthStatement:
    shop: str  # shop name, else the retailer's name
    phone: str
    wholesalers: tuple[str, ...]  # who the shop has traded with on credit
    month: BsMonth
    opening: Decimal
    entries: tuple[StatementRow, ...]

    @property
    def closing(self) -> Decimal:
        return self.entries[-1].balance if self.entries else self.opening

    @property
    def debits(self) -> Decimal:
        return sum((r.debit or Decimal(0) for r in self.entries), Decimal(0))

    @property
    def credits(self) -> Decimal:
        return sum((r.credit or Decimal(0) for r in self.entries), Decimal(0))


def month_statement(session: Session, retailer_id: int, month: BsMonth) -> MonthStatement:
    retailer = session.get(Retailer, retailer_id, execution_options={"include_deleted": True})
    if retailer is None:
        raise NotFound(f"retailer #{retailer_id} does not exist")
    rows = statement_rows(session, retailer_id, month.first_day, month.last_day)
    names = session.execute(
        select(Wholesaler.business_name, Wholesaler.name)
        .join(RetailerWholesalerCredit, RetailerWholesalerCredit.wholesaler_id == Wholesaler.id)
        .where(RetailerWholesalerCredit.retailer_id == retailer_id)
        .order_by(Wholesaler.id)
        .execution_options(include_deleted=True)
    ).all()
    return MonthStatement(
        shop=PartyKind.shown_name(retailer),
        phone=retailer.whatsapp_number,
        wholesalers=tuple(b or n for b, n in names),
        month=month,
        opening=rows[0].balance,
        entries=tuple(rows[1:]),
    )
