# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""Issue 19's second round: an order confirmed with a 0 s window is decided in the inbound job that
placed it and its notices sent by it (no timer job or drain job between the YES and the winner's
notice), and an order's notices are
rendered with a fixed number of reads, however many wholesalers they go to."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import event, select

from db.models import OfferStatus, Order, OrderStatus, OutboundMessage, OutboundStatus, VendorOffer
from domain import messaging
from domain.events import Notice
from tests.fake_twilio import fake_twilio, thok_settings  # noqa: F401 (fixtures)
from thok.logging import context as log_context
from thok.logging import reset_context
from thok.seed import seed_demo
from workers import context
from workers.inbound import process_inbound
from workers.notices import render_notices
from workers.queueing import DECISIONS_QUEUE, OUTBOUND_QUEUE

SURESH = "+9779841000103"  # KC Mart, English (the demo seed)


@contextmanager
def demo_market(settings: Any, db: Any, **overrides: Any) -> Iterator[None]:
    """The demo seed in a fresh database, with jobs using these settings until the block ends."""
    context.configure(settings.with_overrides(**overrides))
    try:
        with db.unit_of_work() as uow:
            seed_demo(uow.session)
            uow.commit()
        yield
    finally:
        context.configure(None)


def write(db: Any, sid: str, body: str) -> str:
    with db.unit_of_work() as uow:
        inbound_id = messaging.store_inbound(
            uow.session, messaging.IncomingMessage(message_sid=sid, from_number=SURESH, body=body)
        )
        uow.commit()
    assert inbound_id is not None
    return process_inbound(inbound_id)


def test_a_window_of_0_s_is_decided_by_the_job_that_placed_the_order(
    thok_settings: Any, fresh_database: Any, redis: Any, fake_twilio: Any
) -> None:
    templates = (("offer_request", "HXinvite"), ("order_update", "HXupdate"))  # wholesalers: outside 24 h
    for sid in ("HXinvite", "HXupdate"):
        fake_twilio.contents[sid] = {"sid": sid, "types": {"twilio/text": {"body": "{{1}}"}}}
    with demo_market(thok_settings, fresh_database, offer_window_seconds=0, twilio_templates=templates):
        write(fresh_database, "SMorder0001", "2 bora jeera masino")
        sends = Queue(OUTBOUND_QUEUE, connection=redis)
        queued = sends.job_ids  # the summary's drain (no worker runs here)
        write(fresh_database, "SMyes000001", "YES")
        with fresh_database.session() as s:
            order = s.scalars(select(Order)).one()
            # Decided before any worker ran a decisions job: none was queued or scheduled.
            assert order.status is OrderStatus.WHOLESALER_SELECTED and order.final_wholesaler_id is not None
            winner_notices = s.scalars(
                select(OutboundMessage).where(
                    OutboundMessage.order_id == order.id, OutboundMessage.wholesaler_id == order.final_wholesaler_id
                )
            ).all()
            assert {m.kind for m in winner_notices} >= {"offer_request", "order_update"}  # invited, then won
            # Sent by the same job, through the channel (the fake Twilio), not left for a drain job.
            assert [(m.status, bool(m.provider_sid)) for m in winner_notices] == [(OutboundStatus.QUEUED, True)] * 2
            won = select(VendorOffer).where(VendorOffer.order_id == order.id, VendorOffer.status == OfferStatus.WON)
            winner = s.scalars(won).one()
            order_id, winner_id = order.id, winner.id
        decisions = Queue(DECISIONS_QUEUE, connection=redis)
        armed = decisions.job_ids + ScheduledJobRegistry(queue=decisions).get_job_ids()
        assert armed == [f"accept-timeout-{order_id}-{winner_id}"]  # only the winner's accept window
        assert sends.job_ids == queued  # no drain job of its own: the YES's job sent its messages itself


def test_an_orders_notices_read_prices_and_parties_once_for_all_wholesalers(
    thok_settings: Any, fresh_database: Any, redis: Any
) -> None:
    with demo_market(thok_settings, fresh_database, offer_window_seconds=3600):
        write(fresh_database, "SMorder0002", "2 bora jeera masino, 5 kg masoor dal")
        write(fresh_database, "SMyes000002", "YES")
        with fresh_database.session() as s:
            order = s.scalars(select(Order)).one()
            invited = [o.wholesaler_id for o in s.scalars(select(VendorOffer).where(VendorOffer.order_id == order.id))]
            order_id, retailer_id = order.id, order.retailer_id
        assert len(invited) >= 2
        statements: list[str] = []

        def seen(conn: object, cursor: object, statement: str, *_: object) -> None:
            statements.append(statement)

        params = {"ref": "x", "total": "100"}
        notices = [
            Notice("offer_invite", "wholesaler", w, f"again:{w}", order_id, params, "offer_request") for w in invited
        ] + [Notice("order_confirmed", "retailer", retailer_id, "again:shop", order_id, params)]
        event.listen(fresh_database.engine, "before_cursor_execute", seen)
        try:
            with fresh_database.unit_of_work() as uow:
                assert len(render_notices(uow.session, notices)) == len(notices)
                uow.rollback()
        finally:
            event.remove(fresh_database.engine, "before_cursor_execute", seen)

        def reads(table: str) -> int:
            return sum(f"FROM {table} " in q or q.rstrip().endswith(f"FROM {table}") for q in statements)

        # One read each for every wholesaler's prices, the wholesalers, the order and its shop.
        assert reads("wholesaler_products") == 1
        assert reads("wholesalers") == 1
        assert reads("orders") == 1
        assert reads("retailers") == 1


def test_a_decision_made_with_its_confirmation_is_observed_like_the_timers(
    thok_settings: Any, fresh_database: Any, redis: Any, fake_twilio: Any
) -> None:
    """The offer process's figures (decisions, offers per order, time to winner) move for a window
    decided inside the YES's own job as they do for one closed by its timer."""
    from prometheus_client import REGISTRY

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    names = (("thok_decisions_total", {"outcome": "won"}), ("thok_offers_per_order_count", {}),
             ("thok_time_to_winner_seconds_count", {}))  # fmt: skip
    with demo_market(thok_settings, fresh_database, offer_window_seconds=0):
        write(fresh_database, "SMorder0002", "2 bora jeera masino")
        before = [sample(name, **labels) for name, labels in names]
        write(fresh_database, "SMyes000002", "YES")
        assert [sample(name, **labels) - b for (name, labels), b in zip(names, before, strict=True)] == [1, 1, 1]


def test_a_decision_that_fails_with_its_confirmation_leaves_the_order_placed_and_its_timer_armed(
    thok_settings: Any, fresh_database: Any, redis: Any, fake_twilio: Any, monkeypatch: Any
) -> None:
    """The decision runs in a savepoint of the YES's transaction: if it fails, what it wrote and the
    notices it recorded are undone, the order stays confirmed (its reply and invitations sent), and
    the window's timer is armed as before, to decide it with its retries."""
    from domain import selection

    def broken(session: Any, order_id: int, settings: Any, **_: Any) -> Any:
        session.execute(select(Order).where(Order.id == order_id).with_for_update())
        session.add(Order(ref="TK-HALF", retailer_id=1, status=OrderStatus.PENDING_OFFERS))
        session.flush()  # something written inside the savepoint, then the failure
        notify_won = Notice("offer_won", "wholesaler", 1, f"won:{order_id}:0", order_id, {"ref": "x"})
        from domain.events import notify

        notify(session, notify_won)
        raise RuntimeError("the decision broke")

    monkeypatch.setattr(selection, "close_offer_window", broken)
    with demo_market(thok_settings, fresh_database, offer_window_seconds=0):
        write(fresh_database, "SMorder0003", "2 bora jeera masino")
        assert write(fresh_database, "SMyes000003", "YES").startswith("processed")
        with fresh_database.session() as s:
            order = s.scalars(select(Order).where(Order.ref != "TK-HALF")).one()
            assert order.status is OrderStatus.PENDING_OFFERS and order.final_wholesaler_id is None
            assert s.scalars(select(Order).where(Order.ref == "TK-HALF")).first() is None  # undone
            keys = set(s.scalars(select(OutboundMessage.idempotency_key).where(OutboundMessage.order_id == order.id)))
            assert not any(key.startswith("won:") or key.startswith("notice:won:") for key in keys)
            assert any(key.startswith("reply:") for key in keys)  # "your order is placed"
            order_id = order.id
        decisions = Queue(DECISIONS_QUEUE, connection=redis)
        armed = decisions.job_ids + ScheduledJobRegistry(queue=decisions).get_job_ids()
        assert f"close-window-{order_id}" in armed


def test_the_job_that_decides_reads_the_whole_order_once_and_names_it_in_its_log_line(
    thok_settings: Any, fresh_database: Any, redis: Any, fake_twilio: Any
) -> None:
    """The decision locks the order (its one whole-row read); the figures and the log line's ref
    come from one light read after it, not from the order loaded whole again (twice, before:
    the decision's ORM order leaves the session's weak identity map when the decision returns)."""
    with demo_market(thok_settings, fresh_database, offer_window_seconds=0):
        write(fresh_database, "SMorder0003", "2 bora jeera masino")
        statements: list[str] = []

        def seen(conn: object, cursor: object, statement: str, *_: object) -> None:
            statements.append(" ".join(statement.split()))

        engine = context.get_services().database.engine  # the jobs' own engine
        event.listen(engine, "before_cursor_execute", seen)
        reset_context()
        try:
            write(fresh_database, "SMyes000003", "YES")
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        whole = [q for q in statements if q.startswith("SELECT orders.id, orders.ref, orders.retailer_id")]
        assert len(whole) == 1 and "FOR UPDATE" in whole[0], whole
        with fresh_database.session() as s:
            ref = s.scalars(select(Order.ref)).one()
        assert log_context()["order_ref"] == ref  # the job's log line names the order it placed
