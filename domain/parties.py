"""Retailers, wholesalers and admins: registration with normalised numbers, soft delete."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Admin, AdminRole, CreditAccount, Language, Retailer, Wholesaler
from domain.errors import InvalidInput, NotFound
from domain.phones import normalize_phone

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


class PartyKind(StrEnum):
    """Who a party is: a retailer (a shop that orders on credit) or a wholesaler (who offers and
    supplies). The two near-twin tables differ in a few places, and those differences live here, so
    a branch on the kind reads `kind.model` or `kind.shown_name(party)` rather than `kind == "..."`.
    A StrEnum: it is stored, logged and put in URLs as its value ("retailer")."""

    RETAILER = "retailer"
    WHOLESALER = "wholesaler"

    @property
    def model(self) -> type[Retailer] | type[Wholesaler]:
        return Retailer if self is PartyKind.RETAILER else Wholesaler

    @property
    def plural(self) -> str:
        """The dashboard's URL segment and list title ("retailers")."""
        return f"{self.value}s"

    @property
    def label(self) -> str:
        return self.value.title()

    @property
    def display_field(self) -> str:
        """The column with the name the trade knows the party by: the shop's or the business's."""
        return "shop_name" if self is PartyKind.RETAILER else "business_name"

    @classmethod
    def of(cls, party: Retailer | Wholesaler) -> PartyKind:
        return cls.RETAILER if isinstance(party, Retailer) else cls.WHOLESALER

    @classmethod
    def from_plural(cls, plural: str) -> PartyKind | None:
        return next((kind for kind in cls if kind.plural == plural), None)

    @staticmethod
    def shown_name(party: Retailer | Wholesaler) -> str:
        """The shop's or business's name, else the person's."""
        return getattr(party, PartyKind.of(party).display_field) or party.name

    def get(self, session: Session, party_id: int) -> Retailer | Wholesaler:
        """The party with this id, removed or not (old orders and the khata still name them)."""
        # session.get: a party already loaded in this unit of work costs no round trip
        found = session.get(self.model, party_id, execution_options={"include_deleted": True})
        if not isinstance(found, Retailer | Wholesaler):
            raise NotFound(f"{self.value} {party_id} does not exist")
        return found


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
    ensure_number_free(session, number)
    retailer = Retailer(
        name=name.strip(), whatsapp_number=number, shop_name=shop_name, district=district, language=language
    )
    with claiming_number(session, number):
        session.add(retailer)
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
    ensure_number_free(session, number)
    wholesaler = Wholesaler(
        name=name.strip(),
        whatsapp_number=number,
        business_name=business_name,
        district=district,
        language=language,
    )
    with claiming_number(session, number):
        session.add(wholesaler)
    return wholesaler


# --- one WhatsApp number, one live party ---------------------------------------------------------

# What refuses a second live holder of a number: the claim table across both kinds (migration
# 0009) and each table's own live-number index.
NUMBER_CONSTRAINTS = frozenset(
    {"pk_party_phones", "uq_retailers_whatsapp_number_live", "uq_wholesalers_whatsapp_number_live"}
)


class NumberTaken(InvalidInput):
    """The number already reaches another live retailer or wholesaler."""

    code = "number_taken"

    def __init__(self, number: str, holder: str):
        super().__init__(f"{number} is already registered as a {holder}; change or remove that one's number first")
        self.number = number
        self.holder = holder


def ensure_number_free(session: Session, number: str, kind: str | None = None, own_id: int | None = None) -> None:
    """Refuse a number another live party holds, retailer or wholesaler (`kind`/`own_id`: the party
    being edited, which may keep its own number). PostgreSQL enforces the same rule; asking first
    gives the admin the holder's kind instead of a constraint name."""
    for holder in PartyKind:
        model = holder.model
        query = select(model.id).where(model.whatsapp_number == number)
        if holder == kind and own_id is not None:
            query = query.where(model.id != own_id)
        if session.scalars(query).first() is not None:
            raise NumberTaken(number, holder)


@contextmanager
def claiming_number(session: Session, number: str) -> Iterator[None]:
    """Around the change that gives a party `number` (a new party, a new number, a restore). A
    concurrent registration that took the number after `ensure_number_free` is refused by the
    database: that becomes NumberTaken, and the savepoint, opened before the change so its flush
    happens inside, takes the change back and leaves the caller's transaction usable."""
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError as exc:
        diag = getattr(exc.orig, "diag", None)
        if getattr(diag, "constraint_name", None) not in NUMBER_CONSTRAINTS:
            raise
        said = str(getattr(diag, "message_primary", ""))  # "... already belongs to another wholesaler"
        holder = next((kind.value for kind in PartyKind if said.endswith(f"another {kind}")), "party")
        raise NumberTaken(number, holder) from None


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


def get_retailer(session: Session, retailer_id: int) -> Retailer:
    """The retailer with this id, removed or not (`PartyKind.get`, typed)."""
    found = PartyKind.RETAILER.get(session, retailer_id)
    assert isinstance(found, Retailer)
    return found


def get_wholesaler(session: Session, wholesaler_id: int) -> Wholesaler:
    """The wholesaler with this id, removed or not (`PartyKind.get`, typed)."""
    found = PartyKind.WHOLESALER.get(session, wholesaler_id)
    assert isinstance(found, Wholesaler)
    return found
