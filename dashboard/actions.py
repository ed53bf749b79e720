"""What an admin can change, one function per use case (no Flask here).

Each takes the caller's session and an `AdminActor`. The order, money, party and price-list changes
are `usecases`' (the same ones WhatsApp and the CLI call: one audit row, the same notices): these
only translate the form's text into the call. The others call the domain service that owns the rule
and write the audit row in the same transaction. The route commits once; a DomainError raised
anywhere leaves nothing behind: the route's unit of work rolls back the change and its audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    Admin,
    LedgerEntry,
    OutboundMessage,
    OutboundStatus,
    Retailer,
    Wholesaler,
    WholesalerProduct,
)
from domain import catalog, credit, parties
from domain.audit import AdminActor, record_admin_action, snapshot
from domain.errors import InvalidInput, NotFound
from domain.messaging import FAILED_OUTBOUND
from domain.parties import get_retailer, get_wholesaler
from domain.phones import normalize_phone
from thok.config import Settings
from usecases import catalog as catalog_usecases
from usecases import khata
from usecases import offers as offer_usecases
from usecases import orders as order_usecases
from usecases import parties as party_usecases
from usecases.actor import Actor
from usecases.parties import RETAILER_FIELDS, WHOLESALER_FIELDS, NewParty, clean


@dataclass(frozen=True)
class PartyForm(NewParty):
    """A retailer's or wholesaler's editable fields, as typed into the form."""

    is_active: bool = True


# --- retailers and wholesalers -------------------------------------------------------------------


def create_retailer(session: Session, actor: AdminActor, form: PartyForm, credit_limit: str = "0") -> Retailer:
    return party_usecases.register_retailer(session, Actor.from_admin(actor), form, credit_limit or "0")


def create_wholesaler(session: Session, actor: AdminActor, form: PartyForm) -> Wholesaler:
    return party_usecases.register_wholesaler(session, Actor.from_admin(actor), form)


def update_party(session: Session, actor: AdminActor, kind: str, party_id: int, form: PartyForm) -> None:
    fields = RETAILER_FIELDS if kind == "retailer" else WHOLESALER_FIELDS
    party: Any = get_retailer(session, party_id) if kind == "retailer" else get_wholesaler(session, party_id)
    if party.deleted_at is not None:
        raise InvalidInput(f"this {kind} was removed; restore them before editing")
    if not form.name.strip():
        raise InvalidInput(f"a {kind} needs a name")
    number = normalize_phone(form.phone)
    parties.ensure_number_free(session, number, kind, party.id)
    before = snapshot(party, *fields)
    language = form.language_value()
    with parties.claiming_number(session, number):
        party.name = form.name.strip()
        party.whatsapp_number = number
        if kind == "retailer":
            party.shop_name = clean(form.display_name)
        else:
            party.business_name = clean(form.display_name)
        party.district = clean(form.district)
        party.address = clean(form.address)
        party.language = language
        party.is_active = form.is_active
    record_admin_action(session, actor, f"{kind}.update", kind, party.id, before=before, after=snapshot(party, *fields))


def remove_party(session: Session, actor: AdminActor, kind: str, party_id: int) -> None:
    fields = RETAILER_FIELDS if kind == "retailer" else WHOLESALER_FIELDS
    party: Any = get_retailer(session, party_id) if kind == "retailer" else get_wholesaler(session, party_id)
    if party.deleted_at is not None:
        raise InvalidInput(f"this {kind} is already removed")
    before = snapshot(party, *fields)
    parties.soft_delete(party)
    session.flush()
    record_admin_action(session, actor, f"{kind}.delete", kind, party.id, before=before, after=snapshot(party, *fields))


def restore_party(session: Session, actor: AdminActor, kind: str, party_id: int) -> None:
    fields = RETAILER_FIELDS if kind == "retailer" else WHOLESALER_FIELDS
    party: Any = get_retailer(session, party_id) if kind == "retailer" else get_wholesaler(session, party_id)
    if party.deleted_at is None:
        raise InvalidInput(f"this {kind} is not removed")
    # One live party per number, of either kind (migration 0009); say so rather than hit it.
    parties.ensure_number_free(session, party.whatsapp_number, kind, party.id)
    before = snapshot(party, *fields)
    with parties.claiming_number(session, party.whatsapp_number):
        party.deleted_at = None
    after = snapshot(party, *fields)
    record_admin_action(session, actor, f"{kind}.restore", kind, party.id, before=before, after=after)


# --- credit --------------------------------------------------------------------------------------


def set_credit_limit(session: Session, actor: AdminActor, retailer_id: int, raw_limit: str) -> credit.Balance:
    return khata.set_credit_limit(session, Actor.from_admin(actor), retailer_id, raw_limit)


def set_wholesaler_credit_limit(
    session: Session, actor: AdminActor, retailer_id: int, wholesaler_id: int, raw_limit: str
) -> credit.Balance:
    return khata.set_credit_limit(session, Actor.from_admin(actor), retailer_id, raw_limit, wholesaler_id=wholesaler_id)


def record_payment(
    session: Session,
    actor: AdminActor,
    retailer_id: int,
    *,
    amount: str,
    method: str,
    reference: str,
    wholesaler_id: int | None = None,
    notes: str | None = None,
) -> LedgerEntry:
    done = khata.record_payment(
        session,
        Actor.from_admin(actor),
        retailer_id=retailer_id,
        amount=amount,
        method=method,
        reference=reference,
        wholesaler_id=wholesaler_id,
        notes=notes,
    )
    return done.entry


def reverse_payment(session: Session, actor: AdminActor, retailer_id: int, payment_id: int, reason: str) -> LedgerEntry:
    """Take back a wrongly booked payment (a compensating DEBIT; see `usecases.khata.reverse_payment`)."""
    return khata.reverse_payment(session, Actor.from_admin(actor), payment_id, reason, retailer_id=retailer_id).entry


# --- catalog -------------------------------------------------------------------------------------


def import_prices(
    session: Session, actor: AdminActor, wholesaler_id: int, data: bytes, filename: str
) -> catalog.ImportResult:
    """The all-or-nothing import; a CsvImportError carries every bad line."""
    return catalog_usecases.import_prices(session, Actor.from_admin(actor), wholesaler_id, data, filename)


def update_price(
    session: Session, actor: AdminActor, wholesaler_id: int, item_id: int, *, price: str, stock: str, available: bool
) -> WholesalerProduct:
    row = session.scalars(
        select(WholesalerProduct)
        .where(WholesalerProduct.id == item_id, WholesalerProduct.wholesaler_id == wholesaler_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("that catalog line does not exist for this wholesaler")
    if not price.strip() or not stock.strip():
        raise InvalidInput("price and stock are both needed")
    try:  # the price list's own rules, so a typed price and an imported one are checked alike
        new_price = catalog._decimal(price, "price", catalog.MAX_MONEY, 2)
        new_stock = catalog._decimal(stock, "stock", catalog.MAX_QUANTITY, 3)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if new_stock < row.reserved_stock:
        raise InvalidInput(f"stock {new_stock} is below the {row.reserved_stock} already reserved for orders")
    before = snapshot(row, "price", "stock", "is_available")
    row.price, row.stock, row.is_available = new_price, new_stock, available
    session.flush()
    record_admin_action(
        session,
        actor,
        "catalog.update_price",
        "wholesaler_product",
        row.id,
        before=before | {"wholesaler_id": wholesaler_id},
        after=snapshot(row, "price", "stock", "is_available"),
    )
    return row


# --- orders --------------------------------------------------------------------------------------


def cancel_order(session: Session, actor: AdminActor, order_id: int, reason: str) -> None:
    """Thok cancels: the retailer and the wholesaler are both told, with the reason (the use case)."""
    order_usecases.cancel_order(session, Actor.from_admin(actor), order_id, reason)


def override_winner(session: Session, actor: AdminActor, order_id: int, offer_id: int, settings: Settings) -> str:
    """Make this offer win through the decision engine's own rules (usecases.offers.override_winner)."""
    return offer_usecases.override_winner(session, Actor.from_admin(actor), order_id, offer_id, settings).outcome


def advance_order(session: Session, actor: AdminActor, order_id: int, to: str) -> None:
    """Mark dispatched or delivered: the same use case as the wholesaler's DISPATCHED / DELIVERED."""
    order_usecases.advance_order(session, Actor.from_admin(actor), order_id, to)


# --- messages ------------------------------------------------------------------------------------


def retry_outbound(session: Session, actor: AdminActor, outbound_id: int) -> int:
    """Put a failed message back in the outbox with fresh attempts; the caller enqueues the send
    after commit. The old provider SID is dropped so a late callback about the failed attempt
    cannot mark the new one."""
    row = session.scalars(select(OutboundMessage).where(OutboundMessage.id == outbound_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"message {outbound_id} does not exist")
    if row.status not in FAILED_OUTBOUND:
        raise InvalidInput(f"message {outbound_id} is {row.status.value}, not failed; nothing to retry")
    fields = ("status", "attempts", "error_code", "error_message", "provider_sid")
    before = snapshot(row, *fields)
    row.status, row.attempts, row.error_code, row.provider_sid = OutboundStatus.PENDING, 0, None, None
    row.status_changed_at = datetime.now(UTC)
    session.flush()
    record_admin_action(
        session, actor, "message.retry", "outbound_message", outbound_id, before=before, after=snapshot(row, *fields)
    )
    return outbound_id


def record_job_retry(session: Session, actor: AdminActor, job_id: str, queue: str, func_name: str | None) -> None:
    record_admin_action(
        session,
        actor,
        "job.retry",
        "rq_job",
        job_id,
        before={"status": "failed"},
        after={"status": "queued", "queue": queue, "func": func_name},
    )


def record_login(session: Session, actor: AdminActor) -> None:
    admin = session.get(Admin, actor.admin_id)
    if admin is not None:
        admin.last_login_at = datetime.now(UTC)
    record_admin_action(session, actor, "admin.login", "admin", actor.admin_id)
