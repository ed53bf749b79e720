"""The khata: an append-only ledger of DEBITs (orders) and CREDITs (payments, corrections).

Every posting locks the retailer's credit account row first, so postings for one retailer are
serialised: the running `balance_after` is computed from the locked `outstanding`, and ids (taken
after the lock) give the posting order. The entry and the balance move in one transaction.
Posting the same business event twice is a no-op: the idempotency key is unique, and a replay
returns the entry already posted. The posting itself runs in PostgreSQL, one round trip
(`ledger_post`, migration 0004); this module words its refusals and reads the book.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, column, func, select, text
from sqlalchemy.orm import Session

from db.models import (
    EntryType,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerIdempotencyKey,
    Money,
    Order,
    PaymentMethod,
    Retailer,
    RetailerPayment,
    RetailerWholesalerCredit,
)
from domain.amounts import to_amount
from domain.audit import AdminActor, record_admin_action
from domain.credit import Balance, account_balance, wholesaler_label
from domain.errors import CreditLimitExceeded, DomainError, InvalidInput, NotFound
from domain.events import Notice, notify
from domain.money import npr

NEPAL = ZoneInfo("Asia/Kathmandu")
ZERO = Decimal(0)
# The ledger is partitioned by month and a "newest first" read would probe every month's index
# (a Merge Append over all partitions). Reads look at the last year first, pruned to its months,
# and reach older months only when that year holds too little (`ledger_newest`, migration 0005).
RECENT = timedelta(days=365)
METHODS = {
    "cash": PaymentMethod.CASH,
    "esewa": PaymentMethod.ESEWA,
    "khalti": PaymentMethod.KHALTI,
    "fonepay": PaymentMethod.FONEPAY,
    "bank": PaymentMethod.BANK_TRANSFER,
    "bank_transfer": PaymentMethod.BANK_TRANSFER,
    "bank-transfer": PaymentMethod.BANK_TRANSFER,
}


MAX_REFERENCE = 100  # retailer_payments.reference
MAX_NOTES = 500
MAX_REASON = 300


def payment_method(raw: str | PaymentMethod) -> PaymentMethod:
    if isinstance(raw, PaymentMethod):
        return raw
    method = METHODS.get(raw.strip().lower())
    if method is None:
        raise InvalidInput(f"unknown payment method {raw!r}; use cash, esewa, khalti, fonepay or bank")
    return method


# --- posting -------------------------------------------------------------------------------------


def _lock_account(session: Session, retailer_id: int) -> None:
    """Serialise with every posting for this retailer (ledger_post takes the same row lock)."""
    found = session.execute(
        text("SELECT 1 FROM credit_accounts WHERE retailer_id = :r FOR UPDATE"), {"r": retailer_id}
    ).first()
    if found is None:
        raise NotFound(f"retailer {retailer_id} has no credit account")


def _entry_by_key(session: Session, key: str) -> LedgerEntry | None:
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


def _already_posted(
    session: Session, key: str, retailer_id: int, entry_type: EntryType, amount: Decimal
) -> LedgerEntry | None:
    entry = _entry_by_key(session, key)
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

    def __init__(self) -> None:
        super().__init__("there is no open balance with this wholesaler to record a payment against")


class ReferenceTooLong(InvalidInput):
    def __init__(self, length: int, limit: int):
        super().__init__(f"the reference is {length} characters long; at most {limit} fit")
        self.length = length
        self.limit = limit


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
        replay = _already_posted(session, idempotency_key, retailer_id, entry_type, amount)
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
) -> LedgerEntry:
    """Book what the retailer owes (an order's total at the winning prices). `release_held` turns
    the order's credit hold into debt in the same transaction."""
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
    _lock_account(session, original.retailer_id)  # earlier reversals cannot change under us
    existing = _entry_by_key(session, idempotency_key)
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


def record_payment(
    session: Session,
    *,
    retailer_id: int,
    amount: Decimal,
    method: PaymentMethod | str,
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
    key = idempotency_key or (f"payment:{method.value}:{reference}" if reference else f"payment:{uuid.uuid4().hex}")
    _lock_account(session, retailer_id)  # the replay and reference checks run under the lock
    replay = _already_posted(session, key, retailer_id, EntryType.CREDIT, value)
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
                f"{method.value} reference {reference} is already recorded (payment #{dup.id}, "
                f"NPR {npr(dup.amount)}); check the reference"
            )
    label = method.value.replace("_", " ").title() + (f" ref {reference}" if reference else "")
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
            description=f"Payment ({label})",
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


def reverse_payment(session: Session, payment_id: int, reason: str, actor: AdminActor) -> LedgerEntry:
    """An admin takes back a wrongly booked payment: a DEBIT for the whole CREDIT, referencing it,
    to the same wholesaler's balance; audited, and the retailer (and the wholesaler paid) told.

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
    _lock_account(session, payment.retailer_id)  # the "already reversed" check runs under the lock
    credit = payment_credit(session, payment_id)
    key = f"reversal:{credit.id}"
    done = _entry_by_key(session, key)
    if done is not None:
        raise InvalidInput(f"payment #{payment_id} was already reversed (entry #{done.id}, {done.created_at:%Y-%m-%d})")
    before = account_balance(session, payment.retailer_id)
    try:
        entry = _post(
            session,
            EntryType.DEBIT,
            retailer_id=payment.retailer_id,
            amount=credit.amount,
            idempotency_key=key,
            description=f"Payment #{payment_id} reversed: {reason}",
            order_id=None,
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
    after = account_balance(session, payment.retailer_id)
    record_admin_action(
        session,
        actor,
        "payment.reverse",
        "retailer_payment",
        payment.id,
        before={"credit_entry_id": credit.id, "amount": credit.amount, "outstanding": before.net},
        after={"entry_id": entry.id, "reason": reason, "outstanding": after.net},
    )
    method = payment.method.value.replace("_", " ").title()
    received = f"{payment.received_at.astimezone(NEPAL):%Y-%m-%d}"
    common = {"amount": npr(credit.amount), "method": method, "date": received}
    notify(
        session,
        Notice(
            key="payment_reversed",
            to_kind="retailer",
            to_id=payment.retailer_id,
            dedupe_key=f"payment:{payment.id}:reversed",
            kind="payment_update",
            params=common | {"outstanding": npr(after.outstanding)},
        ),
    )
    if credit.wholesaler_id is not None:
        retailer = session.get(Retailer, payment.retailer_id, execution_options={"include_deleted": True})
        assert retailer is not None
        owed = session.execute(
            select(RetailerWholesalerCredit.outstanding).where(
                RetailerWholesalerCredit.retailer_id == payment.retailer_id,
                RetailerWholesalerCredit.wholesaler_id == credit.wholesaler_id,
            )
        ).scalar_one()
        notify(
            session,
            Notice(
                key="payment_reversed_wholesaler",
                to_kind="wholesaler",
                to_id=credit.wholesaler_id,
                dedupe_key=f"payment:{payment.id}:reversed:w",
                kind="payment_update",
                params=common | {"retailer": retailer.shop_name or retailer.name, "owed": npr(owed)},
            ),
        )
    return entry


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


@dataclass(frozen=True)
class StatementRow:
    when: datetime | None  # None for the opening balance
    entry_type: str
    description: str
    order_ref: str | None
    debit: Decimal | None
    credit: Decimal | None
    balance: Decimal


STATEMENT_COLUMNS = ("date", "type", "description", "order ref", "debit", "credit", "balance")


def _nepal_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=NEPAL)


def statement_rows(session: Session, retailer_id: int, start: date, end: date) -> list[StatementRow]:
    """Entries from `start` to `end` inclusive (Nepal dates), after an opening-balance row."""
    if end < start:
        raise InvalidInput(f"the statement ends ({end}) before it starts ({start})")
    lo, hi = _nepal_midnight(start), _nepal_midnight(end + timedelta(days=1))
    archived = session.execute(
        text("SELECT max(period) FROM archive.manifest WHERE kind = 'ledger'")
    ).scalar()  # months before the hot ledger (`thok archive`)
    if archived is not None and lo < _nepal_midnight(_next_month(archived)):
        return _archived_statement_rows(session, retailer_id, start, lo, hi)
    # Plain columns, not ORM entities: a month can hold dozens of entries and this is read-only.
    result = session.execute(
        select(
            LedgerEntry.created_at,
            LedgerEntry.entry_type,
            LedgerEntry.description,
            Order.ref,
            LedgerEntry.amount,
            LedgerEntry.balance_after,
        )
        .outerjoin(Order, Order.id == LedgerEntry.order_id)
        .where(LedgerEntry.retailer_id == retailer_id, LedgerEntry.created_at >= lo, LedgerEntry.created_at < hi)
        .order_by(LedgerEntry.id)
        .execution_options(include_deleted=True)
    ).all()
    if result:
        # Each entry's balance_after is the one before it moved by its amount: the first entry of
        # the period gives the opening balance, with no look into earlier months.
        first = result[0]
        opening = first.balance_after - (first.amount if first.entry_type is EntryType.DEBIT else -first.amount)
    else:
        opening = _balance_before(session, retailer_id, lo, archived is not None)
    rows = [StatementRow(None, "OPENING", f"Opening balance on {start}", None, None, None, opening)]
    for created_at, entry_type, description, ref, amount, balance_after in result:
        is_debit = entry_type is EntryType.DEBIT
        rows.append(
            StatementRow(
                created_at,
                entry_type.value,
                description,
                ref,
                amount if is_debit else None,
                None if is_debit else amount,
                balance_after,
            )
        )
    return rows


def _balance_before(session: Session, retailer_id: int, moment: datetime, archived: bool) -> Decimal:
    """What the retailer owed just before `moment`: the last entry before it, or the balance the
    archived months left behind (a checkpoint)."""
    opening = session.execute(_BALANCE_BEFORE, _newest(retailer_id, 1, moment)).scalar()
    if opening is None and archived:
        opening = session.execute(
            select(LedgerCheckpoint.balance_after)
            .where(LedgerCheckpoint.retailer_id == retailer_id, LedgerCheckpoint.wholesaler_id.is_(None))
            .order_by(LedgerCheckpoint.as_of.desc())
            .limit(1)
        ).scalar()
    if opening is None:
        account_balance(session, retailer_id)  # NotFound for an unknown retailer (checked only here:
        # a retailer with an opening balance exists, and every statement saves a round trip)
    return opening or ZERO


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


# Archived and hot entries together, with order refs from either place; slower, and only for
# statements that reach into archived months.
_ALL_ENTRIES = """
    SELECT id, entry_type::text AS entry_type, amount, retailer_id, order_id, description, balance_after, created_at
    FROM ledger_entries WHERE retailer_id = :r AND created_at < :hi
    UNION ALL
    SELECT id, entry_type::text, amount, retailer_id, order_id, description, balance_after, created_at
    FROM archive.ledger_entries WHERE retailer_id = :r AND created_at < :hi
"""


def _archived_statement_rows(
    session: Session, retailer_id: int, start: date, lo: datetime, hi: datetime
) -> list[StatementRow]:
    params = {"r": retailer_id, "lo": lo, "hi": hi}
    opening = session.execute(
        text(
            f"SELECT balance_after FROM ({_ALL_ENTRIES}) e WHERE created_at < :lo "
            "ORDER BY created_at DESC, id DESC LIMIT 1"
        ),
        params,
    ).scalar()
    has_archived_orders = session.execute(text("SELECT to_regclass('archive.orders') IS NOT NULL")).scalar()
    refs = (
        "LEFT JOIN (SELECT id, ref FROM orders UNION ALL SELECT id, ref FROM archive.orders) o ON o.id = e.order_id"
        if has_archived_orders
        else "LEFT JOIN orders o ON o.id = e.order_id"
    )
    found = session.execute(
        text(f"SELECT e.*, o.ref FROM ({_ALL_ENTRIES}) e {refs} WHERE e.created_at >= :lo ORDER BY e.id"), params
    )
    if opening is None:
        account_balance(session, retailer_id)  # NotFound for an unknown retailer (checked only here:
        # a retailer with an opening balance exists, and every statement saves a round trip)
    rows = [StatementRow(None, "OPENING", f"Opening balance on {start}", None, None, None, opening or ZERO)]
    for e in found:
        is_debit = e.entry_type == EntryType.DEBIT.value
        rows.append(
            StatementRow(
                e.created_at,
                e.entry_type,
                e.description,
                e.ref,
                e.amount if is_debit else None,
                None if is_debit else e.amount,
                e.balance_after,
            )
        )
    return rows


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
