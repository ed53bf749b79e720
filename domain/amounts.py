"""NPR amounts as people type them, checked. Apart from domain/money.py (printing) so that the
errors, which print amounts, and this, which raises errors, do not import each other."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from domain.errors import InvalidInput
from domain.money import CENT, MAX_AMOUNT, npr


def to_amount(raw: object, what: str = "amount") -> Decimal:
    """A positive amount with at most two decimals ("5,000", "1250.50"); anything else is refused."""
    try:
        value = Decimal(str(raw).replace(",", "").strip())
    except InvalidOperation:
        raise InvalidInput(f"{what} {raw!r} is not a number (write it like 5000 or 1250.50)") from None
    if not value.is_finite() or value <= 0:
        raise InvalidInput(f"{what} must be more than zero (got {raw})")
    if value > MAX_AMOUNT:  # before quantize, which raises on numbers beyond Decimal's precision
        raise InvalidInput(f"{what} {raw} is too large (at most {npr(MAX_AMOUNT)})")
    if value != value.quantize(CENT):
        raise InvalidInput(f"{what} {raw} has more than two decimal places")
    return value.quantize(CENT)
