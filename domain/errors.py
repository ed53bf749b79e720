"""Domain errors: each message tells the user (or admin) what went wrong and what to do."""


class DomainError(Exception):
    """Base of every business-rule refusal; entrypoints map it to a reply or a 4xx."""


class NotFound(DomainError):
    pass


class InvalidInput(DomainError):
    pass


class CreditLimitExceeded(DomainError):
    """An order (or debit) would take the retailer past a credit limit. `wholesaler` names the
    per-wholesaler limit that refused it; None means the retailer's overall limit."""

    def __init__(self, amount: object, available: object, wholesaler: str | None = None):
        from domain.money import npr

        where = f" with {wholesaler}" if wholesaler else ""
        super().__init__(
            f"Credit limit{where} reached: available NPR {npr(available)}, order NPR {npr(amount)}. "
            "Pay some of the balance or ask Thok to raise the limit."
        )
        self.amount = amount
        self.available = available
        self.wholesaler = wholesaler
