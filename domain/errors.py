"""Domain errors: each message tells the user (or admin) what went wrong and what to do.

The message (`str(exc)`) is English, for the dashboard, the CLI and the logs. A reply to a shopkeeper
is built from `code` and `values` instead: `code` names the message-catalog entry
(handlers/messages.py) that says the same in English and Nepali, and `values` are the facts it
quotes (an order's ref, an amount, a state), so the domain's English never reaches a Nepali reader.
A class states its own code; a raise site may name a narrower one (`InvalidInput(..., code=...)`).
"""

from decimal import Decimal
from typing import Any

from domain.money import npr


class DomainError(Exception):
    """Base of every business-rule refusal; entrypoints map it to a reply or a 4xx."""

    code: str = "refused"

    def __init__(self, message: str = "", *, code: str | None = None, **values: Any) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.__dict__.update(values)

    @property
    def values(self) -> dict[str, Any]:
        """The facts the catalog text quotes: the keyword values given, and any attribute a
        subclass set itself (CreditLimitExceeded's amount and available)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "code"}


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    code = "invalid_input"


class OutOfRange(InvalidInput):
    """A number beyond what Thok (and its column) can hold: `what` names it, `maximum` is the largest
    accepted, so the reply can say both instead of the database refusing the write."""

    code = "out_of_range"

    def __init__(self, what: str, maximum: Decimal):
        super().__init__(f"{what} is too large (at most {maximum:,})")
        self.what = what
        self.maximum = maximum


class TooManyDecimals(InvalidInput):
    """A number written finer than Thok keeps it (paisa for money, grams for kg): refused, never rounded."""

    code = "too_many_decimals"

    def __init__(self, what: str, places: int):
        super().__init__(f"{what} has more than {places} decimal places")
        self.what = what
        self.places = places


def decimal_places(value: Decimal) -> int:
    """The decimal places a value needs (12.50 needs 1, 12.000 none): what rounding would lose."""
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


class CreditLimitExceeded(DomainError):
    """An order (or debit) would take the retailer past a credit limit. `wholesaler` names the
    per-wholesaler limit that refused it; None means the retailer's overall limit."""

    code = "credit_refused"

    def __init__(self, amount: object, available: object, wholesaler: str | None = None):
        where = f" with {wholesaler}" if wholesaler else ""
        super().__init__(
            f"Credit limit{where} reached: available NPR {npr(available)}, order NPR {npr(amount)}. "
            "Pay some of the balance or ask Thok to raise the limit."
        )
        self.amount = amount
        self.available = available
        self.wholesaler = wholesaler
