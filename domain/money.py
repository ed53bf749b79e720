"""NPR amounts: parsing what people type and printing what they read."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from domain.errors import InvalidInput

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")  # NUMERIC(14, 2)


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


def npr(amount: object) -> str:
    """1250 -> '1,250'; 1250.5 -> '1,250.50' (paisa only when there are some)."""
    value = Decimal(str(amount))
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value:,.2f}"
