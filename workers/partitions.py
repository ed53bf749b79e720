"""The hourly ledger-partitions job (queued by the worker's clock, workers/runner.py): db/partitions.py
decides which months; the job takes its database from the worker's context, which db/ cannot import."""

from __future__ import annotations

from db.partitions import ensure_partitions
from workers.context import get_services
from workers.queueing import SWEEP_QUEUE, job


@job(SWEEP_QUEUE)
def ensure_partitions_job() -> list[str]:
    with get_services().database.engine.begin() as conn:
        return ensure_partitions(conn)
