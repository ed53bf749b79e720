"""The offer process's timers on RQ: armed once per business key, and never before their time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry

from domain.events import OfferWindowOpened, WinnerSelected
from workers.orders import schedule_event
from workers.queueing import DECISIONS_QUEUE


def scheduled(redis: Redis) -> dict[str, float]:
    registry = ScheduledJobRegistry(queue=Queue(DECISIONS_QUEUE, connection=redis))
    return {job_id: registry.get_scheduled_time(job_id).timestamp() for job_id in registry.get_job_ids()}


def test_a_window_timer_never_fires_before_the_window_closes(redis: Redis) -> None:
    closes = datetime.now(UTC).replace(microsecond=900_000) + timedelta(seconds=30)
    schedule_event(redis, OfferWindowOpened(7, closes))
    at = scheduled(redis)["close-window-7"]
    # RQ keeps whole seconds: the timer is rounded up past the deadline, not truncated before it.
    assert closes.timestamp() < at <= closes.timestamp() + 1.2


def test_each_timer_is_armed_once(redis: Redis) -> None:
    closes = datetime.now(UTC) + timedelta(seconds=60)
    for _ in range(3):  # a retried job or a duplicate event
        schedule_event(redis, OfferWindowOpened(8, closes))
        schedule_event(redis, WinnerSelected(8, 21, closes + timedelta(seconds=900)))
    assert sorted(scheduled(redis)) == ["accept-timeout-8-21", "close-window-8"]
