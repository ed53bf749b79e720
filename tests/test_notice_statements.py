"""Issue 19, third round: a transaction's notices are rendered in a fixed, small number of
statements, however many parties they go to: the recipients with their language facts in one, the
order (its shop, winner and lines) in one, the wholesalers' prices in one, and the outbox rows in
one INSERT. Texts are pinned by the conversation tests; this pins the cost."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select

from db.models import Order, VendorOffer
from domain.events import Notice
from tests.fake_twilio import fake_twilio, thok_settings  # noqa: F401 (fixtures)
from tests.test_notices_per_order import demo_market, write
from workers.notices import render_notices


def test_a_decisions_notices_are_four_statements_for_every_party(
    thok_settings: Any,  # noqa: F811
    fresh_database: Any,
    redis: Any,
) -> None:
    with demo_market(thok_settings, fresh_database, offer_window_seconds=0):
        write(fresh_database, "SMorder0003", "2 bora jeera masino, 5 kg masoor dal")
        write(fresh_database, "SMyes000003", "YES")
        with fresh_database.session() as s:
            order = s.scalars(select(Order)).one()
            assert order.final_wholesaler_id is not None  # decided: the notices name the winner
            invited = [o.wholesaler_id for o in s.scalars(select(VendorOffer).where(VendorOffer.order_id == order.id))]
            order_id, retailer_id = order.id, order.retailer_id
        assert len(invited) >= 2
        statements: list[str] = []

        def seen(conn: object, cursor: object, statement: str, *_: object) -> None:
            statements.append(statement)

        params = {"ref": "x", "total": "100"}
        notices = [Notice("offer_won", "wholesaler", w, f"again:{w}", order_id, params) for w in invited] + [
            Notice("order_confirmed", "retailer", retailer_id, "again:shop", order_id, params)
        ]
        with fresh_database.unit_of_work() as uow:
            event.listen(fresh_database.engine, "before_cursor_execute", seen)
            try:
                assert len(render_notices(uow.session, notices)) == len(notices)
            finally:
                event.remove(fresh_database.engine, "before_cursor_execute", seen)
            uow.rollback()
        reads = [q for q in statements if not q.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
        assert len(reads) == 4, reads  # recipients, the order, the prices, the INSERT
