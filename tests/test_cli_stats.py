"""`thok stats`: the key figures in a terminal, from the database and the queues."""

from __future__ import annotations

from db.session import Database
from domain.offers import OrderLine, place_order
from tests import factories as f
from tests.test_cli_parse import thok
from thok.config import Settings


def test_stats_show_open_orders_and_queues(fresh_database_url: str, redis_url: str, settings: Settings) -> None:
    db = Database(fresh_database_url)
    with db.unit_of_work() as uow:
        rice = f.product(uow.session, "RICE-JEERA")
        f.price(uow.session, f.wholesaler(uow.session), rice, 2400, 10)
        place_order(uow.session, f.retailer(uow.session), [OrderLine(rice.id, 1)], settings)  # type: ignore[arg-type]
        uow.commit()
    db.dispose()
    run = thok("stats", url=fresh_database_url, env={"REDIS_URL": redis_url})
    assert run.returncode == 0, run.stderr
    lines = {line.split("  ")[0].strip(): line for line in run.stdout.splitlines() if line.strip()}
    assert "pending_offers 1" in lines["orders"]
    assert "open 1" in lines["waiting offers"]
    assert "inbound 0" in lines["queues"]
