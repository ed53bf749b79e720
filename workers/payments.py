"""The lookup job for payment links (issue 17): every open request that a gateway was chosen for
is asked about, and a request past its time that no gateway says was paid is expired (and the
retailer told). The browser's return usually settles a payment first; this job is for the payer who
closed the tab, a return lost to a bad connection, and a gateway that was slow to answer."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime

from db.models import PaymentRequest
from domain.payment_requests import due_for_lookup
from payments import links
from workers import effects
from workers.context import get_services
from workers.queueing import SWEEP_QUEUE, job

log = logging.getLogger(__name__)


@job(SWEEP_QUEUE)
def check_payment_requests(now: datetime | None = None) -> dict[str, int]:
    """One round: each open request in its own transaction, so one gateway's trouble (or one
    request's) does not hold back the rest. Returns how many ended in each status."""
    services = get_services()
    now = now or datetime.now(UTC)
    with services.database.session() as session:
        ids = [r.id for r in due_for_lookup(session, now)]
    counts: Counter[str] = Counter()
    for request_id in ids:
        with services.database.unit_of_work() as uow:
            request = uow.session.get(PaymentRequest, request_id)
            if request is None:
                continue
            counts[links.check(uow.session, services.settings, request, now)] += 1
            done = effects.collect(uow.session)
            uow.commit()
        effects.apply(done)
    if ids:
        log.info("payment links checked: %s", dict(counts))
    return dict(counts)
