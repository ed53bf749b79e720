"""The inbound job's plain statements (Core or SQL text) go to the session's connection, past the
ORM's execute: nothing there to autoflush or load for them, only its cost per statement. ORM
statements (entities, soft-delete criteria) still go through the session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from domain import drafts, messaging, order_facts, outbox, selection
from domain.offers import OrderLine, eligible_wholesalers
from tests import factories as f


def test_the_jobs_plain_statements_skip_the_orm_execute(session: Session, orm_executes: list[Any]) -> None:
    shop = f.retailer(session, "Krishna", "Kathmandu")
    rice = f.product(session, "RICE-JEERA")
    session.flush()
    orm_executes.clear()

    assert messaging.claim_inbound(session, -1) is None
    messaging.finish_inbound(session, messaging.ClaimedInbound(-1, "SM-none", "+9779800000000", "", 0, None), shop, "x")
    draft = drafts.Draft(lines=[drafts.DraftLine(rice.id, "RICE-JEERA", "Rice", Decimal(2), "bora", Decimal(100))])
    drafts.save_draft(session, shop.id, draft, 600)
    loaded = drafts.load_draft(session, shop.id, lock=True)
    assert loaded is not None and loaded.lines == draft.lines
    drafts.forget_question(session, shop.id)
    assert drafts.discard_draft(session, shop.id) and not drafts.discard_draft(session, shop.id)
    assert outbox.recipient_facts(session, [shop.id], [])[("retailer", shop.id)].number == shop.whatsapp_number
    assert outbox.claim_batch(session, 0, timedelta(hours=24)) == ([], [])
    outbox.record_sent_and_release(session, [])
    assert order_facts.order_fact(session, -1) is None
    assert eligible_wholesalers(session, [OrderLine(rice.id, Decimal(1))], shop, 5) == []
    selection._settle(session, [], None, datetime.now(UTC))
    assert orm_executes == []
