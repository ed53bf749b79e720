"""The reminder job (issue 17), queued once an hour by the worker: shops that owe money are
reminded by the rules of domain/reminders.py. Off unless REMINDER_AFTER_DAYS is set."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from db.models import Retailer
from domain import messaging
from domain.calendar import NEPAL
from domain.reminders import due_reminders, remind, wholesaler_summaries
from workers import effects
from workers.context import get_services
from workers.queueing import SWEEP_QUEUE, job

log = logging.getLogger(__name__)


@job(SWEEP_QUEUE)
def send_payment_reminders(now: datetime | None = None) -> dict[str, int]:
    services = get_services()
    settings = services.settings
    if settings.reminder_after_days <= 0:
        return {}
    now = now or datetime.now(UTC)
    with services.database.session() as session:
        ids = due_reminders(
            session,
            now,
            after_days=settings.reminder_after_days,
            min_amount=Decimal(settings.reminder_min_amount),
            every_days=settings.reminder_every_days,
        )
    counts: Counter[str] = Counter()
    template = settings.template_for("payment_reminder")
    for retailer_id in ids:
        with services.database.unit_of_work() as uow:
            retailer = uow.session.get(Retailer, retailer_id)
            if retailer is None:
                continue
            window = messaging.within_session_window(uow.session, retailer.whatsapp_number, now)
            row = remind(
                uow.session,
                retailer_id,
                now,
                may_send=window or template is not None,
                pay_hint=bool(settings.payment_gateways),
                template_setting=services.channel.template_setting,
            )
            done = effects.collect(uow.session)
            if done.outbound_ids:
                row.outbound_message_id = done.outbound_ids[0]
            uow.commit()
            counts[row.status] += 1
        effects.apply(done)
    if ids:
        log.info("payment reminders: %s", dict(counts))
    return dict(counts)


SUMMARY_WEEKDAY = 6  # Sunday (Python's Monday is 0): the first working day of Nepal's week
SUMMARY_HOUR = 9  # Nepal time: after the shop opens


@job(SWEEP_QUEUE)
def send_wholesaler_summaries(now: datetime | None = None) -> int:
    """Wholesalers' weekly summary of what their shops owe them: Sunday from 09:00 Nepal time, on
    with the reminders (REMINDER_AFTER_DAYS). Queued hourly; the week in each notice's key sends it
    once, however often the job runs."""
    services = get_services()
    if services.settings.reminder_after_days <= 0:
        return 0
    local = (now or datetime.now(UTC)).astimezone(NEPAL)
    if local.weekday() != SUMMARY_WEEKDAY or local.hour < SUMMARY_HOUR:
        return 0
    year, week, _ = local.isocalendar()
    with services.database.unit_of_work() as uow:
        written = wholesaler_summaries(uow.session, f"{year}-W{week:02d}")
        done = effects.collect(uow.session)
        uow.commit()
    effects.apply(done)
    return written
