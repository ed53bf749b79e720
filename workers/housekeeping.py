"""Hourly housekeeping queued by the worker's clock (workers/runner.py): tables that only grow and
that nothing else trims."""

from __future__ import annotations

from domain.admins import prune_sign_in_records
from workers.context import get_services
from workers.queueing import SWEEP_QUEUE, job


@job(SWEEP_QUEUE)
def prune_sign_in_records_job() -> tuple[int, int]:
    with get_services().database.unit_of_work() as uow:
        pruned = prune_sign_in_records(uow.session)
        uow.commit()
    return pruned
