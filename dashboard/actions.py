"""What an admin can change, one function per use case (no Flask here).

Each takes the caller's session and an `AdminActor`, calls the domain service that owns the rule,
and writes the audit row in the same transaction; the route commits once. A DomainError raised
anywhere leaves nothing behind: the route's unit of work rolls back the change and its audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    ActorType,
    Admin,
    Language,
    LedgerEntry,
    OrderStatus,
    OutboundMessage,
    OutboundStatus,
    Retailer,
    RetailerPayment,
    VendorOffer,
    Wholesaler,
    WholesalerProduct,
)
from domain import catalog, credit, decision, khata_payments, parties
from domain.amounts import to_amount
from domain.audit import AdminActor, record_admin_action, snapshot
from domain.errors import InvalidInput, NotFound
from domain.events import take_events, take_notices
from domain.messaging import FAILED_OUTBOUND
from domain.orders import lock_order
from domain.parties import get_retailer, get_wholesaler
from domain.phones import normalize_phone
from thok.config import Settings

RETAILER_FIELDS = ("name", "shop_name", "whatsapp_number", "district", "address", "language", "is_active", "deleted_at")
WHOLESALER_FIELDS = (
    "name",
    "business_name",
    "whatsapp_number",
    "district",
    "address",
    "language",
    "is_active",
    "deleted_at",
)
ORDER_FIELDS = ("status", "final_wholesaler_id", "final_total", "status_reason")


@dataclass(frozen=True)
class PartyForm:
    """A retailer's or wholesaler's editable fields, as typed into the form."""

    name: str
    phone: str
    display_name: str | None = None  # shop name / business name
    district: str | None = None
    address: str | None = None
    language: str | None = None
    is_active: bool = True

    def language_value(self) -> Language | None:
        raw = (self.language or "").strip().lower()
        if not raw:
            return None
        try:
            return Language(raw)
        except ValueError:
            raise InvalidInput(f"language {raw!r} is not one of: en, ne (or leave it empty)") from None


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None


def _limit(raw: str) -> Decimal:
    raw = (raw or "").replace(",", "").strip()
    if raw in ("0", "0.00", "0.0"):
        return Decimal(0)
    return to_amount(raw, "credit limit")


# --- retailers and wholesalers -------------------------------------------------------------------


def create_retailer(session: Session, actor: AdminActor, form: PartyForm, credit_limit: str = "0") -> Retailer:
    retailer = parties.register_retailer(
        session,
        name=form.name,
        phone=form.phone,
        shop_name=_clean(form.display_name),
        district=_clean(form.district),
        language=form.language_value(),
        credit_limit=_limit(credit_limit or "0"),
    )
    retailer.address = _clean(form.address)
    session.flush()
    after = snapshot(retailer, *RETAILER_FIELDS) | {"credit_limit": credit_limit or "0"}
    record_admin_action(session, actor, "retailer.create", "retailer", retailer.id, after=after)
    return retailer


def create_wholesaler(session: Session, actor: AdminActor, form: PartyForm) -> Wholesaler:
    wholesaler = parties.register_wholesaler(
        session,
        name=form.name,
        phone=form.phone,
        business_name=_clean(form.display_name),
        district=_clean(form.district),
        language=form.language_value(),
    )
    wholesaler.address = _clean(form.address)
    session.flush()
    record_admin_action(
        session, actor, "wholesaler.create", "wholesaler", wholesaler.id, after=snapshot(wholesaler, *WHOLESALER_FIELDS)
    )
    return wholesaler


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
            party.shop_name = _clean(form.display_name)
        else:
            party.business_name = _clean(form.display_name)
        party.district = _clean(form.district)
        party.address = _clean(form.address)
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
    get_retailer(session, retailer_id)
    before = credit.account_balance(session, retailer_id)
    after = credit.set_credit_limit(session, retailer_id, _limit(raw_limit))
    record_admin_action(
        session,
        actor,
        "credit.set_limit",
        "retailer",
        retailer_id,
        before={"credit_limit": before.credit_limit},
        after={"credit_limit": after.credit_limit},
    )
    return after


def set_wholesaler_credit_limit(
    session: Session, actor: AdminActor, retailer_id: int, wholesaler_id: int, raw_limit: str
) -> credit.Balance:
    get_retailer(session, retailer_id)
    get_wholesaler(session, wholesaler_id)
    before = credit.wholesaler_balance(session, retailer_id, wholesaler_id)
    after = credit.set_wholesaler_credit_limit(session, retailer_id, wholesaler_id, _limit(raw_limit))
    record_admin_action(
        session,
        actor,
        "credit.set_wholesaler_limit",
        "retailer",
        retailer_id,
        before={"wholesaler_id": wholesaler_id, "credit_limit": before.credit_limit if before else None},
        after={"wholesaler_id": wholesaler_id, "credit_limit": after.credit_limit},
    )
    return after


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
    get_retailer(session, retailer_id)
    before = credit.account_balance(session, retailer_id)
    payment, entry = khata_payments.record_payment(
        session,
        retailer_id=retailer_id,
        amount=amount,  # type: ignore[arg-type]  # to_amount parses and checks the typed text
        method=method,
        reference=reference,
        recorded_by_admin_id=actor.admin_id,
        wholesaler_id=wholesaler_id,
        notes=_clean(notes),
    )
    record_admin_action(
        session,
        actor,
        "payment.record",
        "retailer",
        retailer_id,
        before={"outstanding": before.outstanding},
        after={
            "payment_id": payment.id,
            "entry_id": entry.id,
            "amount": payment.amount,
            "method": payment.method,
            "reference": payment.reference,
            "outstanding": entry.balance_after,
        },
    )
    return entry


def reverse_payment(session: Session, actor: AdminActor, retailer_id: int, payment_id: int, reason: str) -> Any:
    """Take back a wrongly booked payment (a compensating DEBIT; see `khata_payments.reverse_payment`)."""
    get_retailer(session, retailer_id)
    payment = session.get(RetailerPayment, payment_id)
    if payment is None or payment.retailer_id != retailer_id:
        raise NotFound(f"payment #{payment_id} is not one of this retailer's")
    return khata_payments.reverse_payment(session, payment_id, reason, actor)


# --- catalog -------------------------------------------------------------------------------------


def import_prices(
    session: Session, actor: AdminActor, wholesaler_id: int, data: bytes, filename: str
) -> catalog.ImportResult:
    """The foundation's all-or-nothing import; a CsvImportError carries every bad line."""
    wholesaler = get_wholesaler(session, wholesaler_id)
    if wholesaler.deleted_at is not None:
        raise InvalidInput("this wholesaler was removed; restore them before importing prices")
    if not data.strip():
        raise InvalidInput("the file is empty: upload a CSV with the header sku,price,stock")
    result = catalog.import_prices(session, wholesaler.whatsapp_number, data, source=filename or "prices.csv")
    record_admin_action(
        session,
        actor,
        "catalog.import_prices",
        "wholesaler",
        wholesaler_id,
        after={"file": filename, "rows": result.rows, "inserted": result.inserted, "updated": result.updated},
    )
    return result


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
    reason = reason.strip()
    if not reason:
        raise InvalidInput("say why the order is cancelled (the retailer and wholesaler are told)")
    order = lock_order(session, order_id)
    before = snapshot(order, *ORDER_FIELDS)
    decision.cancel_order(session, order_id, actor_type=ActorType.ADMIN, actor_id=actor.admin_id, reason=reason)
    record_admin_action(
        session, actor, "order.cancel", "order", order_id, before=before, after=snapshot(order, *ORDER_FIELDS)
    )


def override_winner(session: Session, actor: AdminActor, order_id: int, offer_id: int, settings: Settings) -> str:
    """Make this offer win through `pick_winner` itself: same scoring, stock and credit checks, and
    the same conflict log when the order is already decided. A forced offer that cannot be served
    is refused with the order left open, rather than letting the engine expire the order."""
    offer = session.get(VendorOffer, offer_id)
    if offer is None or offer.order_id != order_id:
        raise InvalidInput("that offer does not belong to this order")
    order = lock_order(session, order_id)
    before = snapshot(order, *ORDER_FIELDS)
    savepoint = session.begin_nested()
    result = decision.pick_winner(
        session,
        order_id,
        settings,
        source=actor.source,
        forced_offer_id=offer_id,
        actor_type=ActorType.ADMIN,
        actor_id=actor.admin_id,
    )
    if result.outcome == "expired":
        savepoint.rollback()
        take_notices(session), take_events(session)  # the expiry's messages must not go out
        raise InvalidInput(
            f"offer {offer_id} cannot win: the wholesaler lacks the stock or the retailer the credit; "
            "the order stays open"
        )
    savepoint.commit()
    record_admin_action(
        session,
        actor,
        "order.override_winner",
        "order",
        order_id,
        before=before,
        after=snapshot(order, *ORDER_FIELDS) | {"offer_id": offer_id, "outcome": result.outcome},
    )
    return result.outcome


def advance_order(session: Session, actor: AdminActor, order_id: int, to: str) -> None:
    """Mark dispatched or delivered, by the same transitions a wholesaler's message makes."""
    order = lock_order(session, order_id)
    before = snapshot(order, *ORDER_FIELDS)
    if to == OrderStatus.DISPATCHED.value:
        decision.mark_dispatched(session, order, actor_type=ActorType.ADMIN, actor_id=actor.admin_id)
    elif to == OrderStatus.DELIVERED.value:
        decision.mark_delivered(session, order, actor_type=ActorType.ADMIN, actor_id=actor.admin_id)
    else:
        raise InvalidInput(f"an admin can mark an order DISPATCHED or DELIVERED, not {to!r}")
    record_admin_action(
        session,
        actor,
        f"order.mark_{to.lower()}",
        "order",
        order_id,
        before=before,
        after=snapshot(order, *ORDER_FIELDS),
    )


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
