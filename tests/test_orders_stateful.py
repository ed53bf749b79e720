"""Random orders, offers, passes, cancellations and deliveries; the invariants hold after each step.

Each example runs in a savepoint of one real PostgreSQL transaction, rolled back afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy.orm import Session

from db.models import ActorType, Order, OrderStatus, Retailer
from db.session import Database
from domain import fulfilment, selection
from domain.errors import DomainError
from domain.events import take_events, take_notices
from domain.offers import OrderLine, pass_offer, place_order, submit_offer
from tests import factories as f
from tests.invariants import check_invariants
from thok.config import Settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class OrderFlow(RuleBasedStateMachine):
    database: Database
    settings: Settings

    def __init__(self) -> None:
        super().__init__()
        self.conn = self.database.engine.connect()
        self.trans = self.conn.begin()
        self.s = Session(bind=self.conn, join_transaction_mode="create_savepoint")
        self.clock = T0
        self.orders: list[int] = []

    @initialize()
    def market(self) -> None:
        s = self.s
        self.products = [f.product(s, sku, unit="kg") for sku in ("DAL-A", "DAL-B")]
        self.wholesalers = [f.wholesaler(s, name) for name in ("W1", "W2", "W3")]
        for i, w in enumerate(self.wholesalers):
            for p in self.products:
                f.price(s, w, p, 100 + 10 * i, 6)
        self.retailers = [f.retailer(s, name, limit=3000).id for name in ("R1", "R2")]

    def tick(self, seconds: int = 1) -> datetime:
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def attempt(self, fn, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        """A refusal (DomainError) must leave nothing behind: run it in a savepoint."""
        sp = self.s.begin_nested()
        try:
            fn(*args, **kwargs)
            sp.commit()
        except DomainError:
            sp.rollback()
        take_events(self.s), take_notices(self.s)

    def pick_order(self, index: int) -> Order | None:
        if not self.orders:
            return None
        return self.s.get(Order, self.orders[index % len(self.orders)])

    @rule(r=st.integers(0, 1), a=st.integers(1, 4), b=st.integers(0, 3))
    def place(self, r: int, a: int, b: int) -> None:
        shop = self.s.get(Retailer, self.retailers[r])
        lines = [OrderLine(self.products[0].id, Decimal(a))] + (
            [OrderLine(self.products[1].id, Decimal(b))] if b else []
        )

        def go() -> None:
            self.orders.append(place_order(self.s, shop, lines, self.settings, now=self.tick()).id)

        self.attempt(go)

    @rule(i=st.integers(0, 50), w=st.integers(0, 2), price=st.integers(50, 900), passing=st.booleans())
    def answer(self, i: int, w: int, price: int, passing: bool) -> None:
        order = self.pick_order(i)
        if order is None:
            return
        wid = self.wholesalers[w].id
        if passing:
            self.attempt(pass_offer, self.s, wid, order.ref, now=order.created_at)
        else:
            self.attempt(submit_offer, self.s, wid, order.ref, Decimal(price), 1, now=order.created_at)

    @rule(i=st.integers(0, 50))
    def close(self, i: int) -> None:
        order = self.pick_order(i)
        if order is not None:
            self.attempt(
                selection.close_offer_window, self.s, order.id, self.settings, source="test", now=self.tick(10_000)
            )

    @rule(i=st.integers(0, 50), accept=st.booleans())
    def winner_answers(self, i: int, accept: bool) -> None:
        order = self.pick_order(i)
        if order is None or order.final_wholesaler_id is None:
            return
        fn = fulfilment.confirm_winner if accept else selection.decline_as_winner
        self.attempt(fn, self.s, order.final_wholesaler_id, order.ref, self.settings)

    @rule(i=st.integers(0, 50))
    def cancel(self, i: int) -> None:
        order = self.pick_order(i)
        if order is not None:
            self.attempt(
                fulfilment.cancel_order, self.s, order.id, actor_type=ActorType.RETAILER, actor_id=None, reason="x"
            )

    @rule(i=st.integers(0, 50))
    def fulfil(self, i: int) -> None:
        order = self.pick_order(i)
        if order is None:
            return
        if order.status is OrderStatus.CONFIRMED:
            self.attempt(fulfilment.mark_dispatched, self.s, order, actor_type=ActorType.WHOLESALER, actor_id=None)
        elif order.status is OrderStatus.DISPATCHED:
            self.attempt(fulfilment.mark_delivered, self.s, order, actor_type=ActorType.WHOLESALER, actor_id=None)

    @invariant()
    def hold(self) -> None:
        if hasattr(self, "products"):
            self.s.flush()
            check_invariants(self.s)

    def teardown(self) -> None:
        self.s.close()
        self.trans.rollback()
        self.conn.close()


def test_order_flow_keeps_its_invariants(database: Database, settings: Settings) -> None:
    OrderFlow.database = database
    OrderFlow.settings = settings
    run_state_machine_as_test(
        OrderFlow,
        settings=hsettings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
