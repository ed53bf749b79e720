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

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.parser import decimal_str
from db.models import Order, VendorOffer, Wholesaler, WholesalerProduct
from domain.events import Notice
from handlers.messages import money_for, numerals, t

NEPAL = timezone(timedelta(hours=5, minutes=45), "NPT")  # no daylight saving: a fixed offset is exact
_AMOUNT_PARAMS = ("total", "amount", "outstanding", "price")


def nepal_time(moment: datetime, lang: str) -> str:
    local = moment.astimezone(NEPAL)
    return numerals(f"{local:%H:%M}, {local.day} {t(f'month_{local.month}', lang)}", lang)


def notice_body(session: Session, notice: Notice, to_id: int, lang: str) -> str:
    params: dict[str, Any] = {k: "" if v is None else str(v) for k, v in notice.params.items()}
    for key in _AMOUNT_PARAMS:
        params[key] = _reader_amount(params.get(key), lang)
    order = session.get(Order, notice.order_id) if notice.order_id else None
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


def _order_facts(session: Session, order: Order, notice: Notice, to_id: int, lang: str) -> dict[str, str]:
    retailer = order.retailer
    to_wholesaler = notice.to_kind == "wholesaler"
    # A wholesaler reads the lines at their own prices; a retailer at the winner's (when known).
    priced_by = to_id if to_wholesaler else order.final_wholesaler_id
    prices: dict[int, Decimal] = {}
    if priced_by is not None:
        rows = session.execute(
            select(WholesalerProduct.product_id, WholesalerProduct.price).where(
                WholesalerProduct.wholesaler_id == priced_by,
                WholesalerProduct.product_id.in_([item.product_id for item in order.items]),
            )
        )
        prices = {product_id: price for product_id, price in rows}
    lines = []
    for item in order.items:
        product = item.product
        name = (product.name_ne or product.name) if lang == "ne" else product.name
        price = prices.get(item.product_id) if to_wholesaler else None
        priced = (
            t("notice_line_price", lang, price=money_for(price, lang), unit=t(f"unit_{item.unit.value}", lang))
            if price is not None
            else ""
        )
        quantity = numerals(decimal_str(item.quantity), lang)
        lines.append(
            t("notice_line", lang, quantity=quantity, unit=t(f"unit_{item.unit.value}", lang), name=name, price=priced)
        )
    facts = {
        "wholesaler": "-",
        "delivery": "",
        "deadline": "-",
        "example": "",
        "ref": order.ref,
        "lines": "\n".join(lines),
        "shop": retailer.shop_name or retailer.name,
        "retailer": retailer.name,
        "phone": retailer.whatsapp_number,
        "address": retailer.address or retailer.district or "-",
        "district": order.delivery_district or retailer.district or "-",
    }
    if notice.key == "offer_invite" and order.offer_window_closes_at is not None:
        facts["deadline"] = nepal_time(order.offer_window_closes_at, lang)
        total = Decimal(str(notice.params.get("total", "0")).replace(",", "") or 0)
        facts["example"] = str(max(int(total * Decimal("0.97")) // 10 * 10, 1))  # typed as-is: ASCII digits
    elif order.accept_deadline_at is not None:
        facts["deadline"] = nepal_time(order.accept_deadline_at, lang)
    winner = _winning_offer(session, order)
    if winner is not None:
        wholesaler = session.get(Wholesaler, winner.wholesaler_id)
        facts["wholesaler"] = (wholesaler.business_name or wholesaler.name) if wholesaler else "-"
        facts["delivery"] = _delivery(winner, lang)
    return facts


def _winning_offer(session: Session, order: Order) -> VendorOffer | None:
    if order.final_wholesaler_id is None:
        return None
    return session.scalars(
        select(VendorOffer).where(
            VendorOffer.order_id == order.id, VendorOffer.wholesaler_id == order.final_wholesaler_id
        )
    ).first()


def _delivery(offer: VendorOffer, lang: str) -> str:
    """ ", delivery tomorrow (1 Dec)" from the offer's days, counted from when it was decided."""
    if offer.delivery_days is None:
        return ""
    start = (offer.decided_at or offer.responded_at or offer.invited_at).astimezone(NEPAL)
    day = start + timedelta(days=offer.delivery_days)
    when = t("day_today", lang) if offer.delivery_days == 0 else t("day_tomorrow", lang)
    if offer.delivery_days > 1:
        when = t("day_in_days", lang, days=numerals(str(offer.delivery_days), lang))
    date = numerals(f"{day.day} {t(f'month_{day.month}', lang)}", lang)
    return t("notice_delivery", lang, when=when, date=date)
