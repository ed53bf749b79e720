"""Reminders of money due (issue 17): on schedule, never more than once in N days, not without a
template outside the 24-hour window (and the dashboard says why), and never after STOP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from redis import Redis
from sqlalchemy import select

from db.models import AuditLog, OutboundMessage, PaymentReminder, Retailer
from db.session import Database
from domain.ledger import post_debit
from handlers import Sender
from handlers.dispatch import handle_message
from tests import factories
from tests.browser import support
from thok.config import Settings
from workers import context
from workers.reminders import send_payment_reminders

# Runs are 9 days after NOW: one day more than the 7-day rule needs, so a debit the fixture posts
# just after Nepal midnight (the next Nepal day from NOW) is still owed "at the start of that day".
NOW = datetime.now(UTC)


@pytest.fixture
def owing(fresh_database: Database) -> Sender:
    with fresh_database.unit_of_work() as uow:
        r = factories.retailer(uow.session, name="Krishna", limit=1_00_000)
        post_debit(uow.session, retailer_id=r.id, amount=Decimal(5000), idempotency_key="order:rem:1", description="x")
        small = factories.retailer(uow.session, name="Small")  # owes less than the threshold
        post_debit(
            uow.session, retailer_id=small.id, amount=Decimal(500), idempotency_key="order:rem:2", description="y"
        )
        sender = Sender(kind="retailer", phone=r.whatsapp_number, id=r.id, name=r.name)
        uow.commit()
    return sender


def _run(settings: Settings, now: datetime) -> dict[str, int]:
    context.configure(settings)
    try:
        return send_payment_reminders(now)
    finally:
        context.configure(None)


def _rows(db: Database) -> list[PaymentReminder]:
    with db.session() as s:
        rows = list(s.scalars(select(PaymentReminder).order_by(PaymentReminder.id)))
        s.expunge_all()
        return rows


def _reminding(settings: Settings, db: Database, **kw: object) -> Settings:
    return settings.with_overrides(database_url=db.url, reminder_after_days=7, reminder_every_days=3, **kw)


def test_off_unless_configured(fresh_database: Database, settings: Settings, owing: Sender) -> None:
    assert _run(settings.with_overrides(database_url=fresh_database.url), NOW + timedelta(days=30)) == {}
    assert _rows(fresh_database) == []


def test_a_reminder_goes_out_on_schedule_and_not_again_too_soon(
    fresh_database: Database, settings: Settings, owing: Sender
) -> None:
    s = _reminding(settings, fresh_database, twilio_templates=(("payment_reminder", "HXremind"),))
    assert _run(s, NOW) == {}  # owed for less than 7 days: a fresh order is not chased
    later = NOW + timedelta(days=9)
    assert _run(s, later) == {"SENT": 1}  # the shop owing NPR 500 is below the threshold
    [row] = _rows(fresh_database)
    assert row.retailer_id == owing.id and row.status == "SENT" and row.outstanding == Decimal(5000)
    with fresh_database.session() as db:
        sent = db.get(OutboundMessage, row.outbound_message_id)
        assert sent is not None and sent.to_number == owing.phone and sent.kind == "payment_reminder"
        assert "your khata shows NPR 5,000 owed" in sent.body and "Reply STOP" in sent.body
        assert sent.content_variables == {"1": "5,000"}  # the template's variable
    assert _run(s, later + timedelta(days=2)) == {}  # once in 3 days at most
    assert _run(s, later + timedelta(days=3, minutes=1)) == {"SENT": 1}
    assert len(_rows(fresh_database)) == 2


def test_without_a_template_it_is_not_sent_and_the_dashboard_says_why(
    fresh_database: Database, settings: Settings, owing: Sender, redis: Redis
) -> None:
    s = _reminding(settings, fresh_database)
    assert _run(s, NOW + timedelta(days=9)) == {"NOT_SENT": 1}
    [row] = _rows(fresh_database)
    assert row.outbound_message_id is None and "TWILIO_TEMPLATE_PAYMENT_REMINDER" in (row.reason or "")
    with fresh_database.session() as db:
        assert db.scalars(select(OutboundMessage)).first() is None
    support.seed(fresh_database)
    from tests.test_dashboard import login

    client = support.build_app(s, fresh_database, redis, TESTING=True).test_client()
    assert login(client).status_code == 302
    page = client.get(f"/dashboard/retailers/{owing.id}/khata").get_data(as_text=True)
    assert "Payment reminders" in page and "<strong>not sent</strong>: not sent: the shop has not written" in page


def test_stop_is_honoured_and_audited_and_start_undoes_it(
    fresh_database: Database, settings: Settings, owing: Sender
) -> None:
    s = _reminding(settings, fresh_database, twilio_templates=(("payment_reminder", "HXremind"),))
    with fresh_database.unit_of_work() as uow:
        [reply] = handle_message(uow.session, owing, "रोक्नुहोस्", s)
        uow.commit()
    assert reply.body.startswith("हुन्छ, अब भुक्तानीको सम्झना पठाइने छैन")
    assert _run(s, NOW + timedelta(days=9)) == {} and _rows(fresh_database) == []
    with fresh_database.unit_of_work() as uow:
        assert "no more payment reminders" in handle_message(uow.session, owing, "STOP", s)[0].body  # again: same
        assert "payment reminders again" in handle_message(uow.session, owing, "start", s)[0].body
        uow.commit()
    with fresh_database.session() as db:
        actions = [a.action for a in db.scalars(select(AuditLog).where(AuditLog.retailer_id == owing.id))]
        assert actions == ["reminders.stop", "reminders.start"]
        assert db.get(Retailer, owing.id).reminders_stopped_at is None  # type: ignore[union-attr]
    assert _run(s, NOW + timedelta(days=9)) == {"SENT": 1}


def test_stop_inside_a_sentence_is_not_an_opt_out(fresh_database: Database, settings: Settings, owing: Sender) -> None:
    s = _reminding(settings, fresh_database)
    with fresh_database.unit_of_work() as uow:
        handle_message(uow.session, owing, "stop the chamal order", s)
        assert uow.session.get(Retailer, owing.id).reminders_stopped_at is None  # type: ignore[union-attr]


def test_wholesalers_get_a_weekly_summary_of_what_shops_owe_them(fresh_database: Database, settings: Settings) -> None:
    from workers.reminders import send_wholesaler_summaries

    with fresh_database.unit_of_work() as uow:
        w = factories.wholesaler(uow.session, name="Ram Traders")
        for n, (name, amount) in enumerate((("Sita Store", 1_25_000), ("Hari Pasal", 500))):
            r = factories.retailer(uow.session, name=name, limit=5_00_000)
            post_debit(
                uow.session,
                retailer_id=r.id,
                amount=Decimal(amount),
                idempotency_key=f"order:sum:{n}",
                description="z",
                wholesaler_id=w.id,
            )
        wholesaler_phone = w.whatsapp_number
        uow.commit()
    s = _reminding(settings, fresh_database)
    sunday_morning = datetime(2026, 12, 6, 4, 30, tzinfo=UTC)  # 10:15 in Nepal, a Sunday

    def summaries() -> list[OutboundMessage]:
        with fresh_database.session() as db:
            rows = list(db.scalars(select(OutboundMessage).where(OutboundMessage.to_number == wholesaler_phone)))
            db.expunge_all()
            return rows

    context.configure(s)
    try:
        assert send_wholesaler_summaries(sunday_morning - timedelta(hours=2)) == 0  # before 09:00
        assert send_wholesaler_summaries(sunday_morning + timedelta(days=1)) == 0  # a Monday
        assert send_wholesaler_summaries(sunday_morning) == 1
        [sent] = summaries()
        assert sent.kind == "weekly_summary"
        assert "2 shops owe you NPR 1,25,500 on credit. Most first: Sita Store 1,25,000; Hari Pasal 500." in sent.body
        send_wholesaler_summaries(sunday_morning + timedelta(hours=3))  # the same week: not twice
        assert len(summaries()) == 1
        send_wholesaler_summaries(sunday_morning + timedelta(days=7))
        assert len(summaries()) == 2
    finally:
        context.configure(None)
    context.configure(settings.with_overrides(database_url=fresh_database.url))  # reminders off: no summary
    try:
        assert send_wholesaler_summaries(sunday_morning + timedelta(days=14)) == 0
    finally:
        context.configure(None)
