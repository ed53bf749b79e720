"""RQ jobs of the offer process. Each takes ids, runs one unit of work, and is idempotent: the
order row lock and its status decide whether there is anything left to do, so a duplicate or
retried job changes nothing (a second decision attempt is logged as a conflict).

Job ids come from the business key (`close-window-{order}`, `accept-timeout-{order}-{offer}`), so
the same timer is never armed twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from db.models import Order, OrderStatus
from domain import decision
from thok import metrics
from thok.logging import bind
from workers import effects
from workers.context import get_services

log = logging.getLogger(__name__)


def _run(fn_name: str, order_id: int, *args: int) -> str:
    services = get_services()
    with services.database.unit_of_work() as uow:
        fn = getattr(decision, fn_name)
        if fn_name == "close_offer_window":
            result = fn(uow.session, order_id, services.settings, source="worker:close_offer_window")
        else:
            result = fn(uow.session, order_id, *args, services.settings)
        order = uow.session.get(Order, order_id)
        figures = _figures(fn_name, order, result) if order is not None else {}
        done = effects.collect(uow.session)
        uow.commit()
    effects.apply(done)
    bind(order_ref=order.ref if order is not None else None)
    _observe(result, figures)
    log.info("%s order=%s -> %s", fn_name, order_id, result.outcome)
    return result.outcome


def _figures(fn_name: str, order: Order, result: decision.Decision) -> dict[str, float]:
    """The offer process's figures, read from the order as the decision left it (in its session;
    observed only once the decision is committed)."""
    if fn_name != "close_offer_window" or result.outcome not in ("won", "expired"):
        return {}
    closed = order.decided_at or datetime.now(UTC)
    figures = {
        "window": (closed - order.created_at).total_seconds(),
        "offers": float(sum(offer.responded_at is not None for offer in order.offers)),
    }
    if result.outcome == "won" and order.decided_at is not None:
        figures["to_winner"] = (order.decided_at - order.created_at).total_seconds()
    return figures


def _observe(result: decision.Decision, figures: dict[str, float]) -> None:
    metrics.DECISIONS.labels(result.outcome).inc()
    if "window" in figures:
        metrics.OFFER_WINDOW.observe(figures["window"])
        metrics.OFFERS_PER_ORDER.observe(figures["offers"])
    if "to_winner" in figures:
        metrics.TIME_TO_WINNER.observe(figures["to_winner"])


def close_offer_window(order_id: int) -> str:
    return _run("close_offer_window", order_id)


def accept_timeout(order_id: int, offer_id: int) -> str:
    return _run("winner_accept_timeout", order_id, offer_id)


def sweep_orders(now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """The durable backstop for every timer: windows past their close and winners past their
    accept deadline, found in PostgreSQL (partial index on open orders), decided now."""
    now = now or datetime.now(UTC)
    services = get_services()
    with services.database.session() as session:
        due_windows = list(
            session.scalars(
                select(Order.id)
                .where(Order.status == OrderStatus.PENDING_OFFERS, Order.offer_window_closes_at <= now)
                .order_by(Order.offer_window_closes_at)
                .limit(limit)
            )
        )
        overdue = list(
            session.execute(
                select(Order.id)
                .where(Order.status == OrderStatus.WHOLESALER_SELECTED, Order.accept_deadline_at <= now)
                .limit(limit)
            ).scalars()
        )
    counts = {"windows": 0, "timeouts": 0}
    for order_id in due_windows:
        try:
            close_offer_window(order_id)
            counts["windows"] += 1
        except OperationalError:
            log.exception("sweep could not close window of order %s", order_id)
    for order_id in overdue:
        with services.database.unit_of_work() as uow:
            result = decision.sweep_accept_deadline(uow.session, order_id, services.settings, now=now)
            done = effects.collect(uow.session)
            uow.commit()
        effects.apply(done)
        metrics.DECISIONS.labels(result.outcome).inc()
        counts["timeouts"] += result.outcome != "not_open"
    return counts
