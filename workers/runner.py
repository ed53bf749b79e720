"""`thok worker`: an RQ worker with the scheduler, listening on Thok's queues."""

from __future__ import annotations

import logging

from rq import Worker

from thok import runtime
from thok.config import Settings

QUEUES = ("inbound", "decisions", "outbound", "default")  # drained in this order


def run_worker(settings: Settings, burst: bool = False) -> bool:
    logging.getLogger("rq.worker").setLevel(logging.INFO)
    worker = Worker(list(QUEUES), connection=runtime.redis_for(settings))
    return worker.work(burst=burst, with_scheduler=True)
