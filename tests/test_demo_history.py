"""`thok seed --demo` opens on a living market: weeks of trade through the real use cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from db.models import AuditLog, LedgerEntry, Order, OrderStatus, RetailerPayment
from db.session import Database
from thok import runtime
from thok.cli import main


def _counts(db: Database) -> tuple[int, ...]:
    with db.session() as s:
        return tuple(
            int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Order, LedgerEntry, RetailerPayment, AuditLog)
        )


def test_demo_seed_builds_weeks_of_history_once(
    fresh_database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    runtime.settings.cache_clear()
    runner = CliRunner()
    try:
        res = runner.invoke(main, ["seed", "--demo"])
        assert res.exit_code == 0, res.output
        db = Database(fresh_database_url)
        try:
            first = _counts(db)
            orders, entries, payments, _ = first
            assert orders >= 20 and entries >= 20 and payments >= 5, first
            assert f"{orders} orders and {payments} payments of history" in res.output
            with db.session() as s:
                statuses = dict(s.execute(select(Order.status, func.count()).group_by(Order.status)).all())
                assert {OrderStatus.DELIVERED, OrderStatus.DISPATCHED, OrderStatus.CONFIRMED} <= set(statuses)
                assert len(statuses) >= 4, statuses
                # Spread over the last four weeks, not all stamped at the seed's moment.
                now = datetime.now(UTC)
                created = list(s.scalars(select(Order.created_at)))
                assert min(created) < now - timedelta(days=14) and max(created) > now - timedelta(days=7)
                assert all(c < now for c in created)
                delivered = s.scalars(select(Order).where(Order.status == OrderStatus.DELIVERED)).all()
                assert all(o.created_at < o.confirmed_at < o.dispatched_at < o.delivered_at < now for o in delivered)
                paid = list(s.scalars(select(RetailerPayment.received_at)))
                assert min(paid) < now - timedelta(days=7)
                # No order of the history waits on a timer the seed did not start.
                waiting = (OrderStatus.PENDING_OFFERS, OrderStatus.WHOLESALER_SELECTED)
                assert not any(st in statuses for st in waiting)

            res = runner.invoke(main, ["check"])
            assert res.exit_code == 0, res.output

            res = runner.invoke(main, ["seed", "--demo"])  # a second seed adds nothing
            assert res.exit_code == 0, res.output
            assert "0 orders and 0 payments of history" in res.output
            assert _counts(db) == first
        finally:
            db.dispose()
    finally:
        runtime.settings.cache_clear()
