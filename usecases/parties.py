"""Registering a party: a retailer (with its credit account) or a wholesaler, audited.

Thok's own people register parties (the dashboard, `thok register-retailer` / `register-wholesaler`);
nobody registers themselves over WhatsApp (an unknown number is answered with how to join), so no
WhatsApp handler calls these. Nobody is messaged on registration: a first message from Thok to a
number that never wrote would need a paid template, and the party's first message gets the welcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from db.models import ActorType, Language, Retailer, Wholesaler
from domain import parties
from domain.audit import snapshot
from domain.errors import InvalidInput
from usecases.actor import Actor, audit
from usecases.khata import credit_limit_amount

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


@dataclass(frozen=True)
class NewParty:
    """What registering a party needs, as typed (a form, command-line options)."""

    name: str
    phone: str
    display_name: str | None = None  # the shop's / the business's name
    district: str | None = None
    address: str | None = None
    language: str | None = None  # "en" | "ne" | empty: follow their script

    def language_value(self) -> Language | None:
        raw = (self.language or "").strip().lower()
        if not raw:
            return None
        try:
            return Language(raw)
        except ValueError:
            raise InvalidInput(f"language {raw!r} is not one of: en, ne (or leave it empty)") from None


def clean(value: str | None) -> str | None:
    return (value or "").strip() or None


def _staff_only(actor: Actor) -> None:
    if actor.kind not in (ActorType.ADMIN, ActorType.SYSTEM):
        raise InvalidInput("only Thok registers retailers and wholesalers")


def register_retailer(session: Session, actor: Actor, new: NewParty, credit_limit: Decimal | str = "0") -> Retailer:
    """A retailer and their credit account; one live party per WhatsApp number (migration 0009)."""
    _staff_only(actor)
    limit = credit_limit_amount(credit_limit or "0")
    retailer = parties.register_retailer(
        session,
        name=new.name,
        phone=new.phone,
        shop_name=clean(new.display_name),
        district=clean(new.district),
        language=new.language_value(),
        credit_limit=limit,
    )
    retailer.address = clean(new.address)
    session.flush()
    after = snapshot(retailer, *RETAILER_FIELDS) | {"credit_limit": limit}
    audit(session, actor, "retailer.create", "retailer", retailer.id, after=after, retailer_id=retailer.id)
    return retailer


def register_wholesaler(session: Session, actor: Actor, new: NewParty) -> Wholesaler:
    _staff_only(actor)
    wholesaler = parties.register_wholesaler(
        session,
        name=new.name,
        phone=new.phone,
        business_name=clean(new.display_name),
        district=clean(new.district),
        language=new.language_value(),
    )
    wholesaler.address = clean(new.address)
    session.flush()
    after = snapshot(wholesaler, *WHOLESALER_FIELDS)
    audit(session, actor, "wholesaler.create", "wholesaler", wholesaler.id, after=after)
    return wholesaler
