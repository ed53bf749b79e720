"""Payments into the khata: recording one (a payment row and its one CREDIT) and an admin's
reversal of a wrongly booked one (a compensating DEBIT). The posting itself is `ledger`'s."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    EntryType,
    LedgerEntry,
    LedgerIdempotencyKey,
    RetailerPayment,
)
from domain.amounts import to_amount
from domain.credit import Balance, account_balance
from domain.errors import CreditLimitExceeded, InvalidInput, NotFound
from domain.ledger import NoOpenBalance, already_posted, entry_by_key, lock_account, post_credit, post_debit
from domain.money import npr
from parsing.payment_methods import METHODS, active_words, label, method_code

MAX_REFERENCE = 100  # retailer_payments.reference
MAX_NOTES = 500
MAX_REASON = 300


def payment_method(raw: str) -> str:
    """The code of an active payment method from any of its spellings ("esewa", "बैंक", "BANK_TRANSFER")."""
    code = method_code(raw)
    if code is None or not METHODS[code].active:
        raise InvalidInput(f"unknown payment method {raw!r}; use {', '.join(active_words())}")
    return code


class ReferenceTooLong(InvalidInput):
    code = "payment_reference_too_long"

    def __init__(self, length: int, limit: int):
        super().__init__(f"the reference is {length} characters long; at most {limit} fit")
        self.length = length
        self.limit = limit


def record_payment(
    session: Session,
    *,
    retailer_id: int,
    amount: Decimal,
    method: str,
    reference: str | None,
    recorded_by_admin_id: int | None = None,
    recorded_by_wholesaler_id: int | None = None,
    wholesaler_id: int | None = None,
    idempotency_key: str | None = None,
    notes: str | None = None,
    payment_request_id: int | None = None,
) -> tuple[RetailerPayment, LedgerEntry]:
    """A payment and its one CREDIT entry. A wholesaler recording it is also the one paid, unless
    told otherwise. The same eSewa/Khalti/bank reference is never booked twice. A payment request
    (a gateway link, domain/payment_requests.py) that the gateway confirmed records itself."""
    if recorded_by_admin_id is None and recorded_by_wholesaler_id is None and payment_request_id is None:
        raise InvalidInput("a payment must be recorded by an admin or a wholesaler")
    method = payment_method(method)
    value = to_amount(amount)
    reference = (reference or "").strip() or None
    if reference is not None and len(reference) > MAX_REFERENCE:
        raise ReferenceTooLong(len(reference), MAX_REFERENCE)
    if notes is not None and len(notes) > MAX_NOTES:
        raise InvalidInput(f"the notes are {len(notes)} characters long; at most {MAX_NOTES} fit")
    if recorded_by_wholesaler_id is not None:
        # A wholesaler moves only its own money: what the retailer owes *them* (ledger_post agrees).
        if wholesaler_id not in (None, recorded_by_wholesaler_id):
            raise NoOpenBalance()
        wholesaler_id = recorded_by_wholesaler_id
    key = idempotency_key or (f"payment:{method}:{reference}" if reference else f"payment:{uuid.uuid4().hex}")
    lock_account(session, retailer_id)  # the replay and reference checks run under the lock
    replay = already_posted(session, key, retailer_id, EntryType.CREDIT, value)
    if replay is not None:
        if replay.payment_id is None:
            raise InvalidInput(f"idempotency key {key!r} already booked entry #{replay.id}, not a payment")
        payment = session.get(RetailerPayment, replay.payment_id)
        assert payment is not None
        return payment, replay
    if reference is not None:
        dup = session.scalars(
            select(RetailerPayment).where(RetailerPayment.method == method, RetailerPayment.reference == reference)
        ).first()
        if dup is not None:
            raise InvalidInput(
                f"{label(method)} reference {reference} is already recorded (payment #{dup.id}, "
                f"NPR {npr(dup.amount)}); check the reference"
            )
    shown = label(method) + (f" ref {reference}" if reference else "")
    # A refused payment must leave nothing behind: the payment row and its CREDIT go in one
    # savepoint, rolled back when ledger_post refuses (more than is owed).
    with session.begin_nested():
        payment = RetailerPayment(
            retailer_id=retailer_id,
            wholesaler_id=wholesaler_id,
            amount=value,
            method=method,
            reference=reference,
            notes=notes,
            recorded_by_admin_id=recorded_by_admin_id,
            recorded_by_wholesaler_id=recorded_by_wholesaler_id,
            payment_request_id=payment_request_id,
        )
        session.add(payment)
        session.flush()
        entry = post_credit(
            session,
            retailer_id=retailer_id,
            amount=value,
            idempotency_key=key,
            description=f"Payment ({shown})",
            wholesaler_id=wholesaler_id,
            payment_id=payment.id,
        )
    return payment, entry


def payment_credit(session: Session, payment_id: int) -> LedgerEntry:
    """A payment's one CREDIT entry, found through the key table's payment index (one partition read)."""
    found = session.execute(
        select(LedgerIdempotencyKey.entry_id, LedgerIdempotencyKey.created_at).where(
            LedgerIdempotencyKey.payment_id == payment_id
        )
    ).first()
    entry = (
        session.scalars(
            select(LedgerEntry).where(LedgerEntry.id == found.entry_id, LedgerEntry.created_at == found.created_at)
        ).first()
        if found
        else None
    )
    if entry is None:
        raise NotFound(f"payment #{payment_id} has no entry in the khata (never booked, or archived)")
    return entry


@dataclass(frozen=True)
class Reversal:
    """A booked reversal: the payment, the CREDIT it takes back, the compensating DEBIT, and the
    shop's account either side of it (for the audit row and the messages, written by the use case)."""

    payment: RetailerPayment
    credit: LedgerEntry
    entry: LedgerEntry
    reason: str
    before: Balance
    after: Balance


def reverse_payment(session: Session, payment_id: int, reason: str) -> Reversal:
    """Take back a wrongly booked payment: a DEBIT for the whole CREDIT, referencing it, to the same
    wholesaler's balance. Who may, the audit row and who is told: `usecases.khata.reverse_payment`.

    The ledger keeps both entries. One reversal per payment (its idempotency key): a second is
    refused, not replayed, so a double click cannot look like two corrections. Restoring the debt
    must fit the credit limit like any DEBIT (the CHECK stays the last word): when it would not, the
    reversal is refused with the figures, and the admin raises the limit first, on purpose."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("say why the payment is reversed (it is written in the khata)")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is {len(reason)} characters long; at most {MAX_REASON} fit")
    payment = session.get(RetailerPayment, payment_id)
    if payment is None:
        raise NotFound(f"payment #{payment_id} does not exist")
    lock_account(session, payment.retailer_id)  # the "already reversed" check runs under the lock
    credit = payment_credit(session, payment_id)
    key = f"reversal:{credit.id}"
    done = entry_by_key(session, key)
    if done is not None:
        raise InvalidInput(f"payment #{payment_id} was already reversed (entry #{done.id}, {done.created_at:%Y-%m-%d})")
    before = account_balance(session, payment.retailer_id)
    try:
        entry = post_debit(
            session,
            retailer_id=payment.retailer_id,
            amount=credit.amount,
            idempotency_key=key,
            description=f"Payment #{payment_id} reversed: {reason}",
            wholesaler_id=credit.wholesaler_id,
            reverses_entry_id=credit.id,
        )
    except CreditLimitExceeded as exc:
        where = f"the limit with {exc.wholesaler}" if exc.wholesaler else "the credit limit"
        short = credit.amount - Decimal(str(exc.available))
        raise InvalidInput(
            f"restoring NPR {npr(credit.amount)} of debt would exceed {where} (NPR {npr(exc.available)} "
            f"available): raise it by at least NPR {npr(short)} first, then reverse the payment"
        ) from None
    return Reversal(payment, credit, entry, reason, before, account_balance(session, payment.retailer_id))
