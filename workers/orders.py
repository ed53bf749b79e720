"""RQ jobs of the offer process. Each takes ids, runs one unit of work, and is idempotent: the
order row lock and its status decide whether there is anything left to do, so a duplicate or
retried job changes nothing (a second decision attempt is logged as a conflict).

Job ids come from the business key (`close-window-{order}`, `accept-timeout-{order}-{offer}`), so
the same timer is never armed twice. The timers are armed here (`schedule_event`), beside the jobs
they run, and `apply` is what every caller does after a commit: queue the outbox's sender, arm the
timers. If Redis is down then, nothing is lost: the sweeps find due windows and PENDING messages in
PostgreSQL and catch up.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from db.models import Order, OrderStatus
from domain import selection
from domain.events import Event, OfferWindowOpened, OfferWindowReady, WinnerSelected
from domain.orders import DecidedOrder, decided_order
from thok import metrics
from thok.config import Settings
from thok.logging import bind
from workers.context import get_services
from workers.notices import Effects, collect
from workers.outbound import enqueue_drain
from workers.queueing import DECISIONS_QUEUE, SWEEP_QUEUE, enqueue_timer, job

log = logging.getLogger(__name__)


def _run(fn_name: str, order_id: int, *args: int) -> str:
    services = get_services()
    with services.database.unit_of_work() as uow:
        fn = getattr(selection, fn_name)
        if fn_name == "close_offer_window":
            result = fn(uow.session, order_id, services.settings, source="worker:close_offer_window")
        else:
            result = fn(uow.session, order_id, *args, services.settings)
        order = decided_order(uow.session, order_id)
        figures = window_figures(order, result) if order is not None and fn_name == "close_offer_window" else {}
        done = collect(uow.session)
        uow.commit()
    apply(done)
    bind(order_ref=order.ref if order is not None else None)
    observe_decision(result, figures)
    log.info("%s order=%s -> %s", fn_name, order_id, result.outcome)
    return result.outcome


def window_figures(order: DecidedOrder, result: selection.Decision) -> dict[str, float]:
    """The offer process's figures of a closed window, read from the order as the decision left it
    (in its session; observed with `observe_decision` only once the decision is committed). The
    window's timer and an inbound job deciding a window already closed (workers.inbound) both
    report through here."""
    if result.outcome not in ("won", "expired"):
        return {}
    closed = order.decided_at or datetime.now(UTC)
    figures = {
        "window": (closed - order.created_at).total_seconds(),
        # Counted by the decision while it had the offers locked (set on every won or expired).
        "offers": float(result.answered or 0),
    }
    if result.outcome == "won" and order.decided_at is not None:
        figures["to_winner"] = (order.decided_at - order.created_at).total_seconds()
    return figures


def observe_decision(result: selection.Decision, figures: dict[str, float]) -> None:
    metrics.DECISIONS.labels(result.outcome).inc()
    if "window" in figures:
        metrics.OFFER_WINDOW.observe(figures["window"])
        metrics.OFFERS_PER_ORDER.observe(figures["offers"])
    if "to_winner" in figures:
        metrics.TIME_TO_WINNER.observe(figures["to_winner"])


@job(DECISIONS_QUEUE)
def close_offer_window(order_id: int) -> str:
    return _run("close_offer_window", order_id)


@job(DECISIONS_QUEUE)
def accept_timeout(order_id: int, offer_id: int) -> str:
    return _run("winner_accept_timeout", order_id, offer_id)


def schedule_event(redis: Redis, event: Event) -> None:
    if isinstance(event, OfferWindowOpened):
        enqueue_timer(
            redis, close_offer_window, event.order_id, job_id=f"close-window-{event.order_id}", at=event.closes_at
        )
    elif isinstance(event, OfferWindowReady):
        enqueue_timer(redis, close_offer_window, event.order_id, job_id=f"close-window-early-{event.order_id}")
    elif isinstance(event, WinnerSelected):
        enqueue_timer(
            redis,
            accept_timeout,
            event.order_id,
            event.offer_id,
            job_id=f"accept-timeout-{event.order_id}-{event.offer_id}",
            at=event.accept_deadline,
        )


def apply(effects: Effects, redis: Redis | None = None, settings: Settings | None = None) -> None:
    """Call just after commit: the outbox's sender for the new messages (one job for all of them,
    see workers.outbound), then the timers. A web process passes its own Redis and settings."""
    if redis is None or settings is None:
        services = get_services()
        redis, settings = services.redis, services.settings
    try:
        if effects.outbound_ids:
            enqueue_drain(redis)
        for event in effects.events:
            schedule_event(redis, event)
    except RedisError:
        log.warning("Redis unavailable after commit: the sweeps will send and decide from PostgreSQL")


@job(SWEEP_QUEUE)
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
            result = selection.sweep_accept_deadline(uow.session, order_id, services.settings, now=now)
            done = collect(uow.session)
            uow.commit()
        apply(done)
        metrics.DECISIONS.labels(result.outcome).inc()
        counts["timeouts"] += result.outcome != "not_open"
    return counts
