"""The khata: an append-only ledger of DEBITs (orders) and CREDITs (payments, corrections).

Every posting locks the retailer's credit account row first, so postings for one retailer are
serialised: the running `balance_after` is computed from the locked `outstanding`, and ids (taken
after the lock) give the posting order. The entry and the balance move in one transaction.
Posting the same business event twice is a no-op: the idempotency key is unique, and a replay
returns the entry already posted. The posting itself runs in PostgreSQL, one round trip
(`ledger_post`, migration 0004); this module words its refusals and reads the balances.
Payments are booked in `khata_payments`, statements built in `statements`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import String, column, func, select, text
from sqlalchemy.orm import Session

from db.models import (
    EntryType,
    LedgerEntry,
    LedgerIdempotencyKey,
    Money,
    RetailerWholesalerCredit,
)
from domain.amounts import to_amount
from domain.credit import Balance, account_balance, wholesaler_label
from domain.errors import CreditLimitExceeded, DomainError, InvalidInput, NotFound
from domain.money import npr

ZERO = Decimal(0)
# The ledger is partitioned by month and a "newest first" read would probe every month's index
# (a Merge Append over all partitions). Reads look at the last year first, pruned to its months,
# and reach older months only when that year holds too little (`ledger_newest`, migration 0005).
RECENT = timedelta(days=365)


# --- posting -------------------------------------------------------------------------------------


def lock_account(session: Session, retailer_id: int) -> None:
    """Serialise with every posting for this retailer (ledger_post takes the same row lock)."""
    found = session.execute(
        text("SELECT 1 FROM credit_accounts WHERE retailer_id = :r FOR UPDATE"), {"r": retailer_id}
    ).first()
    if found is None:
        raise NotFound(f"retailer {retailer_id} has no credit account")


def entry_by_key(session: Session, key: str) -> LedgerEntry | None:
    """The entry booked under `key`: the unpartitioned key table gives (id, created_at), so only the
    entry's own month partition is read. A key whose entry was archived is still taken."""
    found = session.execute(
        select(LedgerIdempotencyKey.entry_id, LedgerIdempotencyKey.created_at).where(
            LedgerIdempotencyKey.idempotency_key == key
        )
    ).first()
    if found is None:
        return None
    entry = session.scalars(
        select(LedgerEntry).where(LedgerEntry.id == found.entry_id, LedgerEntry.created_at == found.created_at)
    ).first()
    if entry is None:
        raise InvalidInput(
            f"idempotency key {key!r} booked entry #{found.entry_id} on {found.created_at:%Y-%m-%d}, "
            "now archived; a new event needs its own key"
        )
    return entry


def already_posted(
    session: Session, key: str, retailer_id: int, entry_type: EntryType, amount: Decimal
) -> LedgerEntry | None:
    entry = entry_by_key(session, key)
    if entry is not None and (
        entry.retailer_id != retailer_id or entry.entry_type != entry_type or entry.amount != amount
    ):
        raise InvalidInput(
            f"idempotency key {key!r} already booked entry #{entry.id} ({entry.entry_type.value} "
            f"NPR {npr(entry.amount)} for retailer {entry.retailer_id}); a different event needs its own key"
        )
    return entry


class NoOpenBalance(DomainError):
    """A payment towards a wholesaler the retailer owes nothing. Worded alike whatever the reason
    (never traded, paid up, not even a retailer), so the answer reveals nothing about the retailer."""

    code = "no_open_balance"

    def __init__(self) -> None:
        super().__init__("there is no open balance with this wholesaler to record a payment against")


# ledger_post()'s refusals (migrations 0004 and 0006), worded for the reply.
def _refusal(
    session: Session,
    outcome: str,
    amount: Decimal,
    account: Balance,
    per: Balance | None,
    wholesaler_id: int | None,
    release_held: Decimal,
) -> DomainError:
    if outcome == "not_owed":
        return NoOpenBalance()
    if outcome == "bad_correction":
        return InvalidInput(
            "a correction must answer an entry of the other type, for the same retailer and "
            "wholesaler, and never exceed what is left of it"
        )
    if outcome == "bad_release":
        return InvalidInput(f"cannot release NPR {npr(release_held)}: NPR {npr(account.held)} is held")
    if outcome == "over_limit":
        return CreditLimitExceeded(amount, max(account.available + release_held, ZERO))
    if outcome == "over_wholesaler_limit" and per is not None and wholesaler_id is not None:
        room = per.available + min(release_held, per.held)
        return CreditLimitExceeded(amount, max(room, ZERO), wholesaler_label(session, wholesaler_id))
    if outcome == "overpaid":
        return InvalidInput(
            f"NPR {npr(amount)} is more than the NPR {npr(account.outstanding)} owed; "
            f"record at most NPR {npr(account.outstanding)} (advance payments are not kept)"
        )
    if outcome == "overpaid_wholesaler" and per is not None and wholesaler_id is not None:
        return InvalidInput(
            f"NPR {npr(amount)} is more than the NPR {npr(per.outstanding)} owed to "
            f"{wholesaler_label(session, wholesaler_id)}; record at most that for them"
        )
    raise AssertionError(f"ledger_post returned {outcome!r}")


_ENTRY_COLUMNS = [c.name for c in LedgerEntry.__table__.c]
_OUTCOME_COLUMNS = ("outcome", "credit_limit", "outstanding", "held", "per_credit_limit", "per_outstanding", "per_held")
# The entry's columns first (they are matched by position), then the outcome and the balances
# seen under the lock. The entity is None unless the outcome is 'posted'.
_LEDGER_POST = select(LedgerEntry, *(column(name) for name in _OUTCOME_COLUMNS)).from_statement(
    text(
        "SELECT "
        + ", ".join(f"(r.entry).{name}" for name in _ENTRY_COLUMNS)
        + ", "
        + ", ".join(f"r.{name}" for name in _OUTCOME_COLUMNS)
        + " FROM ledger_post(CAST(:entry_type AS ledger_entry_type), :retailer_id, :amount, :idempotency_key,"
        " :description, :order_id, :wholesaler_id, :payment_id, :reverses_entry_id, :release_held) r"
    ).columns(
        *LedgerEntry.__table__.c,
        column("outcome", String),
        *(column(name, Money) for name in _OUTCOME_COLUMNS[1:]),
    )
)


def _post(
    session: Session,
    entry_type: EntryType,
    *,
    retailer_id: int,
    amount: Decimal,
    idempotency_key: str,
    description: str,
    order_id: int | None,
    wholesaler_id: int | None,
    payment_id: int | None = None,
    reverses_entry_id: int | None = None,
    release_held: Decimal = ZERO,
) -> LedgerEntry:
    """Lock, check, insert and move the balances in one round trip (ledger_post, migration 0004);
    a refusal comes back as an outcome and is raised here as a DomainError with the figures."""
    amount = to_amount(amount)
    entry, outcome, *_seen = session.execute(
        _LEDGER_POST,
        {
            "entry_type": entry_type.value,
            "retailer_id": retailer_id,
            "amount": amount,
            "idempotency_key": idempotency_key,
            "description": description,
            "order_id": order_id,
            "wholesaler_id": wholesaler_id,
            "payment_id": payment_id,
            "reverses_entry_id": reverses_entry_id,
            "release_held": release_held,
        },
    ).one()
    if outcome == "posted":
        return entry
    if outcome == "duplicate":
        # Posted before (a retried job), or by a concurrent posting that committed first.
        replay = already_posted(session, idempotency_key, retailer_id, entry_type, amount)
        assert replay is not None
        return replay
    if outcome == "no_account":
        raise NotFound(f"retailer {retailer_id} has no credit account")
    # The figures with the advances (ledger_post's result keeps 0004's shape); the rows are still
    # locked by this transaction, so they are the ones the refusal saw.
    account = account_balance(session, retailer_id)
    per = None
    if wholesaler_id is not None:
        pair = session.execute(
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
        per = Balance(pair[0] if pair[0] is not None else ZERO, *pair[1:]) if pair else None
    raise _refusal(session, outcome, amount, account, per, wholesaler_id, release_held)


def post_debit(
    session: Session,
    *,
    retailer_id: int,
    amount: Decimal,
    idempotency_key: str,
    description: str,
    order_id: int | None = None,
    wholesaler_id: int | None = None,
    release_held: Decimal = ZERO,
    reverses_entry_id: int | None = None,
) -> LedgerEntry:
    """Book what the retailer owes (an order's total at the winning prices). `release_held` turns
    the order's credit hold into debt in the same transaction; `reverses_entry_id` names the
    CREDIT a payment reversal answers."""
    return _post(
        session,
        EntryType.DEBIT,
        retailer_id=retailer_id,
        amount=amount,
        idempotency_key=idempotency_key,
        description=description,
        order_id=order_id,
        wholesaler_id=wholesaler_id,
        release_held=Decimal(release_held),
        reverses_entry_id=reverses_entry_id,
    )


def post_credit(
    session: Session,
    *,
    retailer_id: int,
    amount: Decimal,
    idempotency_key: str,
    description: str,
    order_id: int | None = None,
    wholesaler_id: int | None = None,
    reverses_entry_id: int | None = None,
    payment_id: int | None = None,
) -> LedgerEntry:
    """Book what reduces the debt: a payment, a cancellation, a return, a price correction."""
    return _post(
        session,
        EntryType.CREDIT,
        retailer_id=retailer_id,
        amount=amount,
        idempotency_key=idempotency_key,
        description=description,
        order_id=order_id,
        wholesaler_id=wholesaler_id,
        payment_id=payment_id,
        reverses_entry_id=reverses_entry_id,
    )


def reverse_entry(
    session: Session, entry_id: int, reason: str, idempotency_key: str, amount: Decimal | None = None
) -> LedgerEntry:
    """A correcting CREDIT against a DEBIT (all of what is left of it by default). The original
    stays as it was; corrections together never exceed it."""
    original = session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFound(f"ledger entry #{entry_id} does not exist")
    if original.entry_type is not EntryType.DEBIT:
        raise InvalidInput(f"entry #{entry_id} is a CREDIT; only a DEBIT can be reversed")
    lock_account(session, original.retailer_id)  # earlier reversals cannot change under us
    existing = entry_by_key(session, idempotency_key)
    if existing is not None and existing.reverses_entry_id == entry_id:
        return existing
    reversed_so_far = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.retailer_id == original.retailer_id, LedgerEntry.reverses_entry_id == entry_id
        )
    ).scalar_one()
    remaining = original.amount - reversed_so_far
    value = remaining if amount is None else to_amount(amount)
    if remaining <= 0:
        raise InvalidInput(f"entry #{entry_id} (NPR {npr(original.amount)}) is already fully reversed")
    if value > remaining:
        raise InvalidInput(
            f"cannot reverse NPR {npr(value)} of entry #{entry_id}: only NPR {npr(remaining)} "
            f"of its NPR {npr(original.amount)} is left to reverse"
        )
    return post_credit(
        session,
        retailer_id=original.retailer_id,
        amount=value,
        idempotency_key=idempotency_key,
        description=reason,
        order_id=original.order_id,
        wholesaler_id=original.wholesaler_id,
        reverses_entry_id=entry_id,
    )


# --- reading -------------------------------------------------------------------------------------


def balance(session: Session, retailer_id: int) -> Balance:
    """Limit, outstanding, held and available (one indexed row)."""
    return account_balance(session, retailer_id)


# ledger_newest() (migration 0005): newest first, the last year's months before older ones, on a
# generic plan pruned at run time (planning every month's partition cost more than the read).
_NEWEST = "FROM ledger_newest(:retailer_id, :n, :before, :recent_since)"
_NEWEST_ENTRIES = select(LedgerEntry).from_statement(text(f"SELECT * {_NEWEST}"))
_BALANCE_BEFORE = text(f"SELECT balance_after {_NEWEST}")


def _newest(retailer_id: int, n: int, before: datetime | None) -> dict[str, Any]:
    recent_since = (before or datetime.now(UTC)) - RECENT
    return {"retailer_id": retailer_id, "n": n, "before": before, "recent_since": recent_since}


def last_entries(session: Session, retailer_id: int, n: int = 5) -> list[LedgerEntry]:
    """The newest `n` entries, newest first (posting order, see the module docstring)."""
    return list(session.scalars(_NEWEST_ENTRIES, _newest(retailer_id, n, None)))


def balance_before(session: Session, retailer_id: int, moment: datetime) -> Decimal | None:
    """The balance after the last entry before `moment` in the hot ledger (None: no entry)."""
    found: Decimal | None = session.execute(_BALANCE_BEFORE, _newest(retailer_id, 1, moment)).scalar()
    return found
