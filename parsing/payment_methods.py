"""Payment methods as data: every way a payment reaches a wholesaler, with its spellings in three
scripts (English, romanised Nepali, Devanagari) and its names in English and Nepali.

`DEFAULT_METHODS` is the built-in table, equal to the rows migration 0012 seeds into
`payment_methods` (a test holds them equal); the parser's payment words (`PAID ... esewa`), the
domain's lookup of a typed method and the labels a message or a page shows are all built from it.
Adding a method is a row here and the same row inserted by a migration: nothing else lists them.
The first spelling is the method's word, what the parser reports ("bank" for BANK_TRANSFER).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from parsing.text import word_key


class PaymentMethod(StrEnum):
    """The codes stored in `retailer_payments.method` (a foreign key to `payment_methods.code`)."""

    CASH = "CASH"
    ESEWA = "ESEWA"
    KHALTI = "KHALTI"
    FONEPAY = "FONEPAY"
    BANK_TRANSFER = "BANK_TRANSFER"


@dataclass(frozen=True)
class MethodDef:
    code: str
    label_en: str
    label_ne: str
    spellings: tuple[str, ...]  # every way it is written, all scripts; the first is its word
    active: bool = True  # an inactive method stays readable on old payments; new ones are refused

    @property
    def word(self) -> str:
        return self.spellings[0]


def _m(code: PaymentMethod, en: str, ne: str, spellings: str, active: bool = True) -> MethodDef:
    return MethodDef(code.value, en, ne, tuple(dict.fromkeys(spellings.split())), active)


DEFAULT_METHODS: tuple[MethodDef, ...] = (
    _m(PaymentMethod.CASH, "Cash", "नगद", "cash nagad nagat कैश नगद क्यास"),
    _m(PaymentMethod.ESEWA, "Esewa", "इसेवा", "esewa sewa इसेवा"),
    _m(PaymentMethod.KHALTI, "Khalti", "खल्ती", "khalti खल्ती"),
    _m(PaymentMethod.FONEPAY, "Fonepay", "फोनपे", "fonepay phonepay qr फोनपे"),
    _m(PaymentMethod.BANK_TRANSFER, "Bank Transfer", "बैंक ट्रान्सफर",
       "bank bank_transfer bank-transfer banking ips connectips cips transfer cheque check बैंक बैङ्क"),
)  # fmt: skip
METHODS: dict[str, MethodDef] = {m.code: m for m in DEFAULT_METHODS}
# Every spelling's word key -> the method's code ("नगद" -> "CASH", "phonepay" -> "FONEPAY").
SPELLINGS: dict[str, str] = {word_key(s): m.code for m in DEFAULT_METHODS for s in (m.code.lower(), *m.spellings)}


def method_code(spelling: str) -> str | None:
    """The method's code from any spelling or its code ("esewa", "BANK_TRANSFER", "बैंक"); None if unknown."""
    raw = spelling.strip()
    if raw.upper() in METHODS:
        return raw.upper()
    return SPELLINGS.get(word_key(raw.lower()))


def active_words() -> list[str]:
    """The words a shopkeeper can use for a new payment, in table order ("cash, esewa, ...")."""
    return [m.word for m in DEFAULT_METHODS if m.active]


def label(code: str, lang: str = "en") -> str:
    """How a method reads on a page or in a message ("Esewa", "बैंक ट्रान्सफर"); an unknown code as stored."""
    found = METHODS.get(code)
    if found is None:
        return code
    return found.label_ne if lang == "ne" else found.label_en
