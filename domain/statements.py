"""A retailer's statement for one Bikram Sambat month, as shops keep the khata: who, the month,
opening balance, the entries with BS dates, closing balance. CSV here; the PDF in `statement_pdf`.

A BS month is two Gregorian part-months (Mangsir 2083 = 17 Nov - 15 Dec 2026): the rows are
`ledger.statement_rows` over its first to last Gregorian day in Nepal, so the ledger's monthly
partitions stay Gregorian and a statement reads at most two of them (docs/scale.md).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Retailer, RetailerWholesalerCredit, Wholesaler
from domain.calendar import NEPAL, BsMonth, bs_iso
from domain.errors import NotFound
from domain.ledger import StatementRow, csv_text, statement_rows


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
        shop=retailer.shop_name or retailer.name,
        phone=retailer.whatsapp_number,
        wholesalers=tuple(b or n for b, n in names),
        month=month,
        opening=rows[0].balance,
        entries=tuple(rows[1:]),
    )


MONTH_CSV_COLUMNS = ("bs date", "date", "type", "description", "order ref", "debit", "credit", "balance")


def write_month_csv(statement: MonthStatement, fh: IO[str]) -> None:
    """UTF-8 CSV: the BS date first, the Gregorian date and Nepal time beside it; amounts as plain
    numbers; text cells escaped against formulas (as `ledger.write_statement_csv`)."""
    writer = csv.writer(fh)
    writer.writerow(MONTH_CSV_COLUMNS)
    first = statement.month.first_day
    opening = f"Opening balance {statement.month.label('en')}"
    writer.writerow([bs_iso(first), f"{first}", "OPENING", opening, "", "", "", f"{statement.opening:.2f}"])
    for r in statement.entries:
        assert r.when is not None
        local = r.when.astimezone(NEPAL)
        writer.writerow(
            [
                bs_iso(local),
                f"{local:%Y-%m-%d %H:%M}",
                csv_text(r.entry_type),
                csv_text(r.description),
                csv_text(r.order_ref or ""),
                "" if r.debit is None else f"{r.debit:.2f}",
                "" if r.credit is None else f"{r.credit:.2f}",
                f"{r.balance:.2f}",
            ]
        )
