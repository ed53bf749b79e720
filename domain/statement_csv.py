"""The khata statement as CSV, for the dashboard's and the CLI's downloads: a date range
(`write_statement_csv`) or one Bikram Sambat month (`write_month_csv`). The PDF is `statement_pdf`."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO

from domain.calendar import NEPAL, bs_iso
from domain.statements import MonthStatement, StatementRow

STATEMENT_COLUMNS = ("date", "type", "description", "order ref", "debit", "credit", "balance")

# A spreadsheet takes a cell that starts with one of these for a formula (=HYPERLINK(...) in a
# description a shop typed). Text cells that do are prefixed with ' (OWASP's CSV injection advice);
# amounts are numbers Thok formats itself, and a negative balance (an advance) stays a number.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def write_statement_csv(rows: Iterable[StatementRow], fh: IO[str]) -> None:
    """UTF-8 CSV (the caller opens `fh`); times in Nepal time, amounts as plain numbers, text cells
    escaped against formulas. A negative balance is an advance the retailer holds."""
    writer = csv.writer(fh)
    writer.writerow(STATEMENT_COLUMNS)
    for r in rows:
        when = r.when.astimezone(NEPAL).strftime("%Y-%m-%d %H:%M") if r.when else ""
        writer.writerow(
            [
                when,
                csv_text(r.entry_type),
                csv_text(r.description),
                csv_text(r.order_ref or ""),
                "" if r.debit is None else f"{r.debit:.2f}",
                "" if r.credit is None else f"{r.credit:.2f}",
                f"{r.balance:.2f}",
            ]
        )


MONTH_CSV_COLUMNS = ("bs date", "date", "type", "description", "order ref", "debit", "credit", "balance")


def write_month_csv(statement: MonthStatement, fh: IO[str]) -> None:
    """UTF-8 CSV: the BS date first, the Gregorian date and Nepal time beside it; amounts as plain
    numbers; text cells escaped against formulas (as `write_statement_csv`)."""
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
