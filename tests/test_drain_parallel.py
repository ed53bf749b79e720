# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""A drain's provider calls (one HTTP round trip each with Twilio) go to several numbers at once,
each number's messages still one after the other in their order; the claim before and the one
record after are unchanged, so every row is sent once and recorded."""

from __future__ import annotations

import time
from typing import Any

from db.models import OutboundStatus
from tests.fake_twilio import fake_twilio, jobs, thok_settings  # noqa: F401 (fixtures)
from tests.test_outbox_batches import queue, rows
from workers.outbound import drain_outbox

NUMBERS = [f"+97798410009{i:02d}" for i in range(4)]


def test_a_batch_calls_the_provider_for_several_numbers_at_once_each_in_order(
    fresh_database: Any, jobs: Any, fake_twilio: Any
) -> None:
    ids = [i for n, to in enumerate(NUMBERS) for i in queue(fresh_database, 2, to=to, prefix=f"par{n}")]
    fake_twilio.delay = 0.3  # each call answered after 0.3 s (the client waits up to 0.5 s)
    fake_twilio.script = ["slow"] * len(ids)
    started = time.monotonic()
    drain_outbox()
    took = time.monotonic() - started
    posts = fake_twilio.posts()
    assert len(posts) == len(ids)  # each once
    for to in NUMBERS:  # a number's messages in their order
        assert [p.form["Body"] for p in posts if p.form["To"] == f"whatsapp:{to}"] == ["message 0", "message 1"]
    sent = rows(fresh_database, ids)
    assert {r.status for r in sent} == {OutboundStatus.QUEUED} and all(r.attempts == 1 for r in sent)
    assert {r.provider_sid for r in sent} == {a["sid"] for a in fake_twilio.accepted}
    # One after the other: 8 x 0.3 s (2.6 s measured). At once: about 1.3 s, the throttle's 10 sends
    # per second (the 8th send's slot is at 0.7 s) now the bound, not the provider's answers.
    assert took < 0.75 * len(ids) * fake_twilio.delay
