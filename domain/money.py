"""NPR amounts: printing what people read (parsing what they type: domain/amounts.py).

The one place amounts are formatted for people (replies, statements, the dashboard): lakh/crore
grouping, and Devanagari digits for Nepali readers. Dates are `domain.calendar`'s."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")  # NUMERIC(14, 2)


DEVANAGARI_DIGITS = str.maketrans("0123456789", "०१२३४५६७८९")


def lakh_grouped(whole: str) -> str:
    """'12345678' -> '1,23,45,678': the last three digits, then pairs (lakh, crore, arab), as Nepal
    writes amounts; Western thousands grouping reads wrong to a shopkeeper above 99,999."""
    head, tail = whole[:-3], whole[-3:]
    pairs = [head[max(0, i - 2) : i] for i in range(len(head), 0, -2)][::-1]
    return ",".join([*pairs, tail]) if head else tail


def npr(amount: object) -> str:
    """THE amount format: 1250 -> '1,250'; 123456.5 -> '1,23,456.50' (paisa only when there are
    some; lakh/crore grouping)."""
    value = Decimal(str(amount)).quantize(CENT)
    whole, _, paisa = f"{abs(value):.2f}".partition(".")
    return ("-" if value < 0 else "") + lakh_grouped(whole) + ("" if paisa == "00" else f".{paisa}")


def digits_for(text: str, lang: str | None) -> str:
    """Digits as the reader writes them: Devanagari (०-९) for Nepali, ASCII otherwise."""
    return text.translate(DEVANAGARI_DIGITS) if lang == "ne" else text


def npr_for(amount: object, lang: str | None) -> str:
    """An amount for one reader: '1,23,456.50' in English, '१,२३,४५६.५०' in Nepali."""
    return digits_for(npr(amount), lang)


def rupees(amount: object, lang: str | None) -> str:
    """With the currency, as statements print it: 'NPR 1,23,456' / 'रु १,२३,४५६'."""
    return ("रु " if lang == "ne" else "NPR ") + npr_for(amount, lang)
