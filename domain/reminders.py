"""Reminding a shop of money due, as a wholesaler would: not every day, not after STOP.

Who is due: a live shop that owes more than the threshold now, owed more than it at the start of
the day `after_days` ago too (so a fresh order is not chased), has not replied STOP, and had no
reminder decided in the last `every_days` days. A reminder outside WhatsApp's 24-hour window must
be an approved template; with none configured it is not sent, and the row says why (the dashboard's
khata page shows it). STOP and START are the shop's own choice, written in the audit log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from db.models import ActorType, AuditLog, CreditAccount, PaymentReminder, Retailer, RetailerWholesalerCredit
from domain.calendar import nepal_day
from domain.credit import account_balance
from domain.events import Notice, notify
from domain.money import npr
from domain.statements import statement_rows


def no_template(template_setting: str) -> str:
    """Why a reminder was not sent, naming the setting of the channel in use (TWILIO_TEMPLATE, META_TEMPLATE)."""
    return (
        "not sent: the shop has not written in the last 24 hours, so WhatsApp allows only an approved "
        f"template, and none is configured for payment reminders (set {template_setting}_PAYMENT_REMINDER)"
    )


def due_reminders(
    session: Session, now: datetime, *, after_days: int, min_amount: Decimal, every_days: int, limit: int = 500
) -> list[int]:
    """The shops to remind now (ids), by the rules above."""
    recent = exists().where(
        PaymentReminder.retailer_id == Retailer.id, PaymentReminder.created_at > now - timedelta(days=every_days)
    )
    candidates = session.scalars(
        select(Retailer.id)
        .join(CreditAccount, CreditAccount.retailer_id == Retailer.id)
        .where(
            CreditAccount.outstanding > min_amount,
            Retailer.is_active.is_(True),
            Retailer.reminders_stopped_at.is_(None),
            ~recent,
        )
        .order_by(Retailer.id)
        .limit(limit)
    ).all()
    since = nepal_day(now - timedelta(days=after_days))
    # What they owed when that day began: the opening balance of a one-day statement.
    return [rid for rid in candidates if statement_rows(session, rid, since, since)[0].balance > min_amount]


def remind(
    session: Session,
    retailer_id: int,
    now: datetime,
    *,
    may_send: bool,
    pay_hint: bool,
    template_setting: str = "TWILIO_TEMPLATE",
) -> PaymentReminder:
    """Decide one reminder: a notice to the shop (SENT) or, when WhatsApp would refuse it, NOT_SENT
    with the reason. The caller links the SENT row to its outbox row once the notice is rendered.
    Dated by the job's clock (`now`), which the every-N-days rule counts from."""
    owed = account_balance(session, retailer_id).outstanding
    if not may_send:
        row = PaymentReminder(
            retailer_id=retailer_id,
            outstanding=owed,
            status="NOT_SENT",
            reason=no_template(template_setting),
            created_at=now,
        )
    else:
        row = PaymentReminder(retailer_id=retailer_id, outstanding=owed, status="SENT", created_at=now)
        notify(
            session,
            Notice(
                key="payment_reminder_pay" if pay_hint else "payment_reminder",
                to_kind="retailer",
                to_id=retailer_id,
                dedupe_key=f"reminder:{retailer_id}:{now:%Y-%m-%dT%H}",
                kind="payment_reminder",
                params={"outstanding": npr(owed)},
            ),
        )
    session.add(row)
    session.flush()
    return row


def set_reminders(session: Session, retailer_id: int, *, on: bool, now: datetime) -> bool:
    """STOP (on=False) or START (on=True) from the shop itself; audited. False if nothing changed."""
    retailer = session.get(Retailer, retailer_id, with_for_update=True)
    assert retailer is not None
    if (retailer.reminders_stopped_at is None) == on:
        return False
    retailer.reminders_stopped_at = None if on else now
    session.add(
        AuditLog(
            retailer_id=retailer_id,
            actor_type=ActorType.RETAILER,
            actor_id=retailer_id,
            action="reminders.start" if on else "reminders.stop",
            reason="replied START" if on else "replied STOP",
        )
    )
    session.flush()
    return True


def recent_reminders(session: Session, retailer_id: int, n: int = 5) -> list[PaymentReminder]:
    return list(
        session.scalars(
            select(PaymentReminder)
            .where(PaymentReminder.retailer_id == retailer_id)
            .order_by(PaymentReminder.created_at.desc(), PaymentReminder.id.desc())
            .limit(n)
        )
    )


SUMMARY_SHOPS = 10  # a WhatsApp message, not a report: the ten who owe most, then "and N more"


def wholesaler_summaries(session: Session, week: str) -> int:
    """The weekly word to each wholesaler: what their shops owe them, most first. One a week per
    wholesaler (the notice's dedupe key names the week). Returns how many were written."""
    rows = session.execute(
        select(
            RetailerWholesalerCredit.wholesaler_id,
            Retailer.shop_name,
            Retailer.name,
            RetailerWholesalerCredit.outstanding,
        )
        .join(Retailer, Retailer.id == RetailerWholesalerCredit.retailer_id)
        .where(RetailerWholesalerCredit.outstanding > 0)
        .order_by(RetailerWholesalerCredit.wholesaler_id, RetailerWholesalerCredit.outstanding.desc())
    ).all()
    by_wholesaler: dict[int, list[tuple[str, Decimal]]] = {}
    for wholesaler_id, shop_name, name, owed in rows:
        by_wholesaler.setdefault(wholesaler_id, []).append((shop_name or name, owed))
    for wholesaler_id, shops in by_wholesaler.items():
        listed = "; ".join(f"{shop} {npr(owed)}" for shop, owed in shops[:SUMMARY_SHOPS])
        more = len(shops) - SUMMARY_SHOPS
        notify(
            session,
            Notice(
                key="wholesaler_owed_summary",
                to_kind="wholesaler",
                to_id=wholesaler_id,
                dedupe_key=f"owed-summary:{wholesaler_id}:{week}",
                kind="weekly_summary",
                params={
                    "total": npr(sum((owed for _, owed in shops), Decimal(0))),
                    "count": str(len(shops)),
                    "shops": listed + (f"; +{more}" if more > 0 else ""),
                },
            ),
        )
    return len(by_wholesaler)
