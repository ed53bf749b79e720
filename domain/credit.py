"""Credit limits and holds.

A retailer's exposure is what they owe (`outstanding`, moved only by ledger entries) plus what
confirmed-but-not-yet-debited orders hold (`held`). PostgreSQL keeps `outstanding + held <=
credit_limit` with a CHECK; here each hold is ONE conditional UPDATE, so two orders racing for the
last credit are serialised on the account row and the loser matches zero rows.

A retailer may carry an `advance` (a cancellation returned more than was owed, migration 0006): it
is credit they bring, so it widens what they can hold and order, and the next DEBIT uses it first.

`retailer_wholesaler_credits` has a row for every pair that traded (ledger_post keeps its balance);
its `credit_limit` is NULL when there is no per-wholesaler limit, and then it limits nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import CreditAccount, Retailer, RetailerWholesalerCredit, Wholesaler
from domain.errors import CreditLimitExceeded, InvalidInput, NotFound
from domain.money import npr
from domain.phones import normalize_phone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Balance:
    credit_limit: Decimal
    outstanding: Decimal
    held: Decimal
    advance: Decimal = Decimal(0)

    @property
    def available(self) -> Decimal:
        return self.credit_limit + self.advance - self.outstanding - self.held

    @property
    def net(self) -> Decimal:
        """What the ledger sums to: the debt, or minus the advance."""
        return self.outstanding - self.advance


def retailer_by_phone(session: Session, phone: str) -> Retailer:
    number = normalize_phone(phone)
    retailer = session.scalars(select(Retailer).where(Retailer.whatsapp_number == number)).first()
    if retailer is None:
        raise NotFound(f"no retailer with WhatsApp number {number} (register them first)")
    return retailer


def wholesaler_by_phone(session: Session, phone: str) -> Wholesaler:
    number = normalize_phone(phone)
    wholesaler = session.scalars(select(Wholesaler).where(Wholesaler.whatsapp_number == number)).first()
    if wholesaler is None:
        raise NotFound(f"no wholesaler with WhatsApp number {number}")
    return wholesaler


def account_balance(session: Session, retailer_id: int) -> Balance:
    row = session.execute(
        select(CreditAccount.credit_limit, CreditAccount.outstanding, CreditAccount.held, CreditAccount.advance).where(
            CreditAccount.retailer_id == retailer_id
        )
    ).first()
    if row is None:
        raise NotFound(f"retailer {retailer_id} has no credit account")
    return Balance(*row)


def _pair_row(session: Session, retailer_id: int, wholesaler_id: int) -> Any:
    return session.execute(
        select(
            RetailerWholesalerCredit.credit_limit,
            RetailerWholesalerCredit.outstanding,
            RetailerWholesalerCredit.held,
            RetailerWholesalerCredit.advance,
        ).where(
            RetailerWholesalerCredit.retailer_id == retailer_id,
            RetailerWholesalerCredit.wholesaler_id == wholesaler_id,
        )
    ).first()


def wholesaler_balance(session: Session, retailer_id: int, wholesaler_id: int) -> Balance | None:
    """The per-wholesaler limit and balance; None when no per-wholesaler limit is set."""
    row = _pair_row(session, retailer_id, wholesaler_id)
    return Balance(*row) if row and row.credit_limit is not None else None


def owed_to_wholesaler(session: Session, retailer_id: int, wholesaler_id: int) -> Decimal:
    """What the retailer owes this wholesaler (their DEBITs less CREDITs; 0 when they never traded
    or the wholesaler holds an advance)."""
    row = _pair_row(session, retailer_id, wholesaler_id)
    return row.outstanding if row else Decimal(0)


def wholesaler_label(session: Session, wholesaler_id: int) -> str:
    row = session.execute(
        select(Wholesaler.business_name, Wholesaler.name).where(Wholesaler.id == wholesaler_id)
    ).first()
    return (row[0] or row[1]) if row else f"wholesaler {wholesaler_id}"


_HOLD_ACCOUNT = text(
    "UPDATE credit_accounts SET held = held + :a, updated_at = now() "
    "WHERE retailer_id = :r AND outstanding + held + :a <= credit_limit + advance "
    "RETURNING credit_limit + advance - outstanding - held"
)
# Only a pair with a limit holds per wholesaler (NULL limit: the WHERE is not true, nothing moves).
_HOLD_WHOLESALER = text(
    "UPDATE retailer_wholesaler_credits SET held = held + :a, updated_at = now() "
    "WHERE retailer_id = :r AND wholesaler_id = :w AND outstanding + held + :a <= credit_limit + advance "
    "RETURNING id"
)


def hold_credit(
    session: Session, retailer_id: int, amount: Decimal, order_id: int | None, wholesaler_id: int | None = None
) -> Decimal:
    """Hold `amount` of the retailer's credit for a confirmed order; returns what is still available.
    Refused with CreditLimitExceeded when it does not fit (the database decides, under the row lock)."""
    if amount <= 0:
        raise InvalidInput(f"a credit hold must be more than zero (got {amount})")
    left = session.execute(_HOLD_ACCOUNT, {"a": amount, "r": retailer_id}).scalar()
    if left is None:
        raise CreditLimitExceeded(amount, max(account_balance(session, retailer_id).available, Decimal(0)))
    if wholesaler_id is not None:
        per = session.execute(_HOLD_WHOLESALER, {"a": amount, "r": retailer_id, "w": wholesaler_id}).first()
        per_balance = None if per else wholesaler_balance(session, retailer_id, wholesaler_id)
        if per_balance is not None:
            # Undo the account hold ourselves: a caller that catches the error and commits anyway
            # must not leave credit held for an order that was refused.
            session.execute(
                text("UPDATE credit_accounts SET held = held - :a WHERE retailer_id = :r"),
                {"a": amount, "r": retailer_id},
            )
            raise CreditLimitExceeded(
                amount, max(per_balance.available, Decimal(0)), wholesaler_label(session, wholesaler_id)
            )
    log.info("held NPR %s of retailer %s's credit for order %s", npr(amount), retailer_id, order_id)
    return Decimal(left)


def release_hold(
    session: Session, retailer_id: int, amount: Decimal, order_id: int | None, wholesaler_id: int | None = None
) -> None:
    """Give back a hold (order cancelled or expired before its debit). Releasing more than is held
    is a bug upstream (a hold released twice), so it is refused rather than clamped."""
    done = session.execute(
        text(
            "UPDATE credit_accounts SET held = held - :a, updated_at = now() "
            "WHERE retailer_id = :r AND held >= :a RETURNING held"
        ),
        {"a": amount, "r": retailer_id},
    ).first()
    if done is None:
        held = account_balance(session, retailer_id).held
        raise InvalidInput(f"cannot release NPR {npr(amount)} for order {order_id}: only NPR {npr(held)} is held")
    if wholesaler_id is not None:
        session.execute(
            text(
                "UPDATE retailer_wholesaler_credits SET held = held - LEAST(held, :a), updated_at = now() "
                "WHERE retailer_id = :r AND wholesaler_id = :w"
            ),
            {"a": amount, "r": retailer_id, "w": wholesaler_id},
        )


def set_credit_limit(session: Session, retailer_id: int, limit: Decimal) -> Balance:
    """Admins set the limit; it cannot go below what is already owed and held."""
    if limit < 0:
        raise InvalidInput("a credit limit cannot be negative")
    row = session.execute(
        text(
            "UPDATE credit_accounts SET credit_limit = :l, updated_at = now() "
            "WHERE retailer_id = :r AND outstanding + held <= :l + advance RETURNING id"
        ),
        {"l": limit, "r": retailer_id},
    ).first()
    if row is None:
        current = account_balance(session, retailer_id)
        raise InvalidInput(
            f"limit NPR {npr(limit)} is below the NPR {npr(current.outstanding + current.held - current.advance)} "
            "already owed and held; record a payment first or choose a higher limit"
        )
    return account_balance(session, retailer_id)


def set_wholesaler_credit_limit(session: Session, retailer_id: int, wholesaler_id: int, limit: Decimal) -> Balance:
    """Create or change a per-wholesaler limit. The pair's balance is already kept by ledger_post
    (a row for every pair that traded), so only the limit is written here."""
    if limit < 0:
        raise InvalidInput("a credit limit cannot be negative")
    # Postings lock the account row first; taking it here keeps the pair's balance still meanwhile.
    session.execute(select(CreditAccount.id).where(CreditAccount.retailer_id == retailer_id).with_for_update()).one()
    row = _pair_row(session, retailer_id, wholesaler_id)
    floor = row.outstanding + row.held - row.advance if row else Decimal(0)
    if limit < floor:
        raise InvalidInput(
            f"limit NPR {npr(limit)} is below the NPR {npr(floor)} already owed to "
            f"{wholesaler_label(session, wholesaler_id)}; choose at least that"
        )
    stmt = insert(RetailerWholesalerCredit).values(
        retailer_id=retailer_id, wholesaler_id=wholesaler_id, credit_limit=limit
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["retailer_id", "wholesaler_id"],
            set_={"credit_limit": stmt.excluded.credit_limit, "updated_at": func.now()},
        )
    )
    result = wholesaler_balance(session, retailer_id, wholesaler_id)
    assert result is not None
    return result
