"""Retailers, wholesalers and admins: registration with normalised numbers, soft delete."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Admin, AdminRole, CreditAccount, Language, Retailer, Wholesaler
from domain.errors import InvalidInput
from domain.phones import normalize_phone

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


def register_retailer(
    session: Session,
    *,
    name: str,
    phone: str,
    shop_name: str | None = None,
    district: str | None = None,
    language: Language | None = None,
    credit_limit: Decimal = Decimal(0),
) -> Retailer:
    """A retailer and their credit account, in the caller's unit of work."""
    number = normalize_phone(phone)
    if not name.strip():
        raise InvalidInput("a retailer needs a name")
    if session.scalars(select(Retailer.id).where(Retailer.whatsapp_number == number)).first():
        raise InvalidInput(f"{number} is already registered as a retailer")
    retailer = Retailer(
        name=name.strip(), whatsapp_number=number, shop_name=shop_name, district=district, language=language
    )
    session.add(retailer)
    session.flush()
    session.add(CreditAccount(retailer_id=retailer.id, credit_limit=credit_limit, outstanding=Decimal(0)))
    return retailer


def register_wholesaler(
    session: Session,
    *,
    name: str,
    phone: str,
    business_name: str | None = None,
    district: str | None = None,
    language: Language | None = None,
) -> Wholesaler:
    number = normalize_phone(phone)
    if not name.strip():
        raise InvalidInput("a wholesaler needs a name")
    if session.scalars(select(Wholesaler.id).where(Wholesaler.whatsapp_number == number)).first():
        raise InvalidInput(f"{number} is already registered as a wholesaler")
    wholesaler = Wholesaler(
        name=name.strip(),
        whatsapp_number=number,
        business_name=business_name,
        district=district,
        language=language,
    )
    session.add(wholesaler)
    session.flush()
    return wholesaler


def soft_delete(entity: Retailer | Wholesaler | Admin) -> None:
    entity.deleted_at = datetime.now(UTC)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_admin(session: Session, email: str, password: str, role: AdminRole = AdminRole.ADMIN) -> Admin:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise InvalidInput(f"{email!r} is not an email address")
    if session.scalars(select(Admin.id).where(Admin.email == email)).first():
        raise InvalidInput(f"an admin with email {email} already exists")
    admin = Admin(email=email, password_hash=hash_password(password), role=role)
    session.add(admin)
    session.flush()
    return admin


def set_language(party: Retailer | Wholesaler, language: str) -> None:
    party.language = Language(language)
