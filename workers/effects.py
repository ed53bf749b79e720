"""After a domain call, before and after its commit (what every entry point does around one).

Before commit, `collect`: the notices the domain recorded are rendered (message catalog, recipient's
language) into the outbox, in the same transaction (workers.notices). After commit, `apply`: the
outbox's sender is queued and the timers (offer window, accept deadline) are armed on RQ
(workers.orders). If Redis is down then, nothing is lost: the sweeps find due windows and PENDING
messages in PostgreSQL and catch up.
"""

from __future__ import annotations

from workers.notices import Effects, collect, render_notices
from workers.orders import apply

__all__ = ["Effects", "apply", "collect", "render_notices"]
