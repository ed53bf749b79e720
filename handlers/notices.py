"""The texts of the messages Thok starts (notices), in the reader's language.

The domain records a notice with the few facts of the event (ref, total); a person reading it on a
phone needs more: a wholesaler quotes from the items, the shop and the deadline, a winner needs the
shop's phone and address, a retailer wants to know who won and when the goods come. Those details
are read here from the order, once, at the moment the notice is written to the outbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from domain.events import Notice
from domain.order_facts import ItemFact, OrderFact, WinnerFact, order_fact, wholesaler_prices
from handlers.messages import money_for, numerals, t
from parsing.parser import decimal_str

NEPAL = timezone(timedelta(hours=5, minutes=45), "NPT")  # no daylight saving: a fixed offset is exact
_AMOUNT_PARAMS = ("total", "amount", "outstanding", "price")


def nepal_time(moment: datetime, lang: str) -> str:
    local = moment.astimezone(NEPAL)
    return numerals(f"{local:%H:%M}, {local.day} {t(f'month_{local.month}', lang)}", lang)


def notice_body(session: Session, notice: Notice, to_id: int, lang: str) -> str:
    params: dict[str, Any] = {k: "" if v is None else str(v) for k, v in notice.params.items()}
    for key in _AMOUNT_PARAMS:
        params[key] = _reader_amount(params.get(key), lang)
    order = order_fact(session, notice.order_id) if notice.order_id else None
    if order is not None:
        params = {**params, **_order_facts(session, order, notice, to_id, lang)}
    return t(notice.key, lang, **params)


def _reader_amount(value: str | None, lang: str) -> str:
    """Amounts come from the domain as "8,883": the reader gets them in their own numerals."""
    if not value:
        return value or ""
    try:
        return money_for(Decimal(value.replace(",", "")), lang)
    except InvalidOperation:
        return value


def _order_facts(session: Session, order: OrderFact, notice: Notice, to_id: int, lang: str) -> dict[str, str]:
    items = list(order.items)
    # A wholesaler reads the lines at their own prices (what they quote against).
    prices = wholesaler_prices(session, to_id, [i.product_id for i in items]) if notice.to_kind == "wholesaler" else {}
    facts = {
        "wholesaler": "-",
        "delivery": "",
        "deadline": "-",
        "example": "",
        "ref": order.ref,
        "lines": items_text(items, lang, prices),
        "shop": order.shop,
        "retailer": order.retailer,
        "phone": order.phone,
        "address": order.address or order.district or "-",
        "district": order.delivery_district or order.district or "-",
    }
    if notice.key == "offer_invite" and order.offer_window_closes_at is not None:
        facts["deadline"] = nepal_time(order.offer_window_closes_at, lang)
        total = Decimal(str(notice.params.get("total", "0")).replace(",", "") or 0)
        facts["example"] = str(max(int(total * Decimal("0.97")) // 10 * 10, 1))  # typed as-is: ASCII digits
    elif order.accept_deadline_at is not None:
        facts["deadline"] = nepal_time(order.accept_deadline_at, lang)
    if order.winner is not None:
        facts["wholesaler"] = order.winner.name
        facts["delivery"] = _delivery(order.winner, lang)
    return facts


def items_text(items: list[ItemFact], lang: str, prices: dict[int, Decimal] | None = None) -> str:
    """ "• 2 bora Jeera Masino Rice @ NPR 2,383/bora", one line per item, in the reader's language."""
    lines = []
    for item in items:
        name = (item.name_ne or item.name) if lang == "ne" else item.name
        unit = t(f"unit_{item.unit}", lang)
        price = (prices or {}).get(item.product_id)
        priced = t("notice_line_price", lang, price=money_for(price, lang), unit=unit) if price is not None else ""
        quantity = numerals(decimal_str(item.quantity), lang)
        lines.append(t("notice_line", lang, quantity=quantity, unit=unit, name=name, price=priced))
    return "\n".join(lines)


def _delivery(offer: WinnerFact, lang: str) -> str:
    """ ", delivery tomorrow (1 Dec)" from the offer's days, counted from when it was decided."""
    if offer.delivery_days is None:
        return ""
    start = offer.since.astimezone(NEPAL)
    day = start + timedelta(days=offer.delivery_days)
    when = t("day_today", lang) if offer.delivery_days == 0 else t("day_tomorrow", lang)
    if offer.delivery_days > 1:
        when = t("day_in_days", lang, days=numerals(str(offer.delivery_days), lang))
    date = numerals(f"{day.day} {t(f'month_{day.month}', lang)}", lang)
    return t("notice_delivery", lang, when=when, date=date)
