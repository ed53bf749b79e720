"""The dashboard's one check at the edge: every id in a path, query parameter and form field is
looked at before any route runs, and a value no column or query can take is a 400 naming the
field. Routes and the domain still say what is wrong with a value that fits (an unknown status, a
credit limit below zero); this only keeps out what would otherwise reach PostgreSQL or Python's
date arithmetic and come back as a 500: NUL characters (PostgreSQL text cannot hold one), text
longer than its column, ids beyond BIGINT, dates outside the years Thok can count in, page cursors
that do not decode.

Rules are per field name, so a field a new route or template reuses is checked the same way; a
name with no rule still gets the NUL and length checks. Lengths come from the model's columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from flask import abort, request

from dashboard.web import bp
from db.models import Admin, AdminAuditLog, Order, Retailer, RetailerPayment

BIGINT_MAX = 2**63 - 1
# The years a date may name: Thok's data starts after 2000, and one day either side of any date in
# this range stays a date (Python's date.max plus a day, or a Nepal-time midnight before 0001, is an
# OverflowError, i.e. a 500).
FIRST_YEAR, LAST_YEAR = 2000, 2100
DEFAULT_MAX_LENGTH = 2000  # a field with no column of its own (a search, a note without a limit)
NUMBER_MAX_LENGTH = 40  # money and quantities: the domain parses them; this only bounds the text

Check = Callable[[str, str], str | None]  # (field, value) -> what is wrong, or None


def _length(column: object) -> int:
    length = getattr(getattr(column, "type", None), "length", None)
    return int(length) if length else DEFAULT_MAX_LENGTH


def _bigint(field: str, raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= BIGINT_MAX:
        return f"{field} {raw[:40]!r} is not an id"
    return None


def _day(field: str, raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return f"{field} {raw[:40]!r} is not a date (use YYYY-MM-DD)"
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        return f"{field} {value} is outside {FIRST_YEAR}-{LAST_YEAR}"
    return None


def _cursor(field: str, raw: str) -> str | None:
    """A page link: `<timestamp>~<id>` (lists), or an id alone (the khata's `before`)."""
    if not raw:
        return None
    stamp, tilde, row_id = raw.rpartition("~")
    broken = f"{field}: that page link is broken; start again from the first page"
    if _bigint(field, row_id) or not row_id.strip():
        return broken
    if tilde:
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            return broken
        if not FIRST_YEAR <= moment.year <= LAST_YEAR:
            return broken
    return None


@dataclass(frozen=True)
class Field:
    max_length: int = DEFAULT_MAX_LENGTH
    check: Check | None = None


def _text(column: object) -> Field:
    return Field(_length(column))


ID = Field(20, _bigint)
DAY = Field(10, _day)
CURSOR = Field(80, _cursor)
NUMBER = Field(NUMBER_MAX_LENGTH)

# Query parameters (GET filters, page links).
QUERY: dict[str, Field] = {
    "from": DAY,
    "to": DAY,
    "retailer_id": ID,
    "wholesaler_id": ID,
    "before": ID,
    "page": ID,
    "after": CURSOR,
    "order": _text(Order.ref),
    "ref": _text(Order.ref),
    "q": Field(100),
    "action": _text(AdminAuditLog.action),
    "entity_type": _text(AdminAuditLog.entity_type),
    "entity_id": _text(AdminAuditLog.entity_id),
    "admin": _text(Admin.email),
    "status": Field(40),
    "month": Field(20),
}

# Form fields (admin changes).
FORM: dict[str, Field] = {
    "name": _text(Retailer.name),
    "display_name": _text(Retailer.shop_name),
    "district": _text(Retailer.district),
    "phone": Field(40),  # as typed ("+977 984-123 4567"); stored normalised, at most 20
    "address": Field(DEFAULT_MAX_LENGTH),
    "language": Field(10),
    "email": _text(Admin.email),
    "offer_id": ID,
    "wholesaler_id": ID,
    "payment_id": ID,
    "entry_id": ID,
    "credit_limit": NUMBER,
    "amount": NUMBER,
    "price": NUMBER,
    "stock": NUMBER,
    "reference": _text(RetailerPayment.reference),
    "method": Field(20),
    "to": Field(40),
    "reason": Field(500),
    "notes": Field(DEFAULT_MAX_LENGTH),
}


def problems(values: Iterable[tuple[str, str]], rules: dict[str, Field]) -> str | None:
    """The first thing wrong with these (field, value) pairs, naming the field; None when all fit."""
    for name, value in values:
        if "\x00" in name or "\x00" in value:
            return f"{name.replace(chr(0), '')!r} contains a NUL character"
        rule = rules.get(name, Field())
        if len(value) > rule.max_length:
            return f"{name} is longer than {rule.max_length} characters"
        if rule.check is not None:
            wrong = rule.check(name, value)
            if wrong:
                return wrong
    return None


def path_problem(view_args: dict[str, object] | None) -> str | None:
    for name, value in (view_args or {}).items():
        if isinstance(value, int) and not 1 <= value <= BIGINT_MAX:
            return f"{name} {value} is not an id"
        if isinstance(value, str) and ("\x00" in value or len(value) > 200):
            return f"{name} is not valid"
    return None


@bp.before_request
def check_input() -> None:
    if request.endpoint == "dashboard.static":
        return
    wrong = (
        path_problem(request.view_args)
        or problems(request.args.items(multi=True), QUERY)
        or (problems(request.form.items(multi=True), FORM) if request.method == "POST" else None)
    )
    if wrong:
        abort(400, f"Not accepted: {wrong}.")
