"""The drain's claim reads the outbox's open rows with a plain index scan in claim order (migration
0014, and the batch size written into the statement so that the generic plan psycopg prepares knows
it), not a bitmap scan and a sort: a bitmap scan never marks an index entry dead, so every row
that passed PENDING -> SENDING -> SENT was visited again, heap page and all, by every claim until
VACUUM (1.5 ms a claim on the orders bench, growing with the table between vacuums)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from domain import outbox

CHURN = """
    INSERT INTO outbound_messages (to_number, body, kind, idempotency_key, status, attempts, created_at)
    SELECT '+97798' || lpad(n::text, 8, '0'), 'hello', 'reply', 'plan:' || n, 'PENDING', 0,
           now() - make_interval(secs => 3000 - n)
    FROM generate_series(1, 3000) AS n
"""


def _plan(session: Any) -> list[dict[str, Any]]:
    """The claim's plan as psycopg runs it after a few calls: a prepared, generic plan (the
    parameters unknown to the planner)."""
    sql = outbox.claim_statement(outbox_batch()).text.replace(":window_s", "$1")
    session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    session.execute(text(f"PREPARE claim_plan(double precision) AS {sql}"))
    explained = session.execute(text("EXPLAIN (FORMAT JSON) EXECUTE claim_plan(86400.0)")).scalar_one()
    nodes, found = [(explained if isinstance(explained, list) else json.loads(explained))[0]["Plan"]], []
    while nodes:
        node = nodes.pop()
        found.append(node)
        nodes.extend(node.get("Plans", []))
    return found


def outbox_batch() -> int:
    return 50


def test_the_claim_scans_the_open_rows_index_in_claim_order_and_skips_what_it_found_dead(fresh_database: Any) -> None:
    with fresh_database.unit_of_work() as uow:
        uow.session.execute(text(CHURN))
        uow.commit()
    with fresh_database.autocommit() as conn:  # the statistics of a busy moment: many rows waiting
        conn.execute(text("ANALYZE outbound_messages"))
    with fresh_database.unit_of_work() as uow:  # then every row sent: dead entries in the open rows' index
        uow.session.execute(text("UPDATE outbound_messages SET status = 'SENDING', attempts = 1"))
        uow.session.execute(text("UPDATE outbound_messages SET status = 'SENT'"))
        uow.commit()
    with fresh_database.unit_of_work() as uow:
        nodes = _plan(uow.session)
        scans = [
            (n["Node Type"], n.get("Index Name"))
            for n in nodes
            if n.get("Relation Name") == "outbound_messages" and n["Node Type"] != "ModifyTable"
        ]
        assert not [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")]  # in the index's order
        claim = ("Index Scan", "ix_outbound_messages_status_created_at_id_open")
        assert claim in scans and not [s for s in scans if "Bitmap" in s[0] or s[0] == "Seq Scan"], scans
        assert outbox.claim_batch(uow.session, outbox_batch(), None) == ([], [])
        uow.rollback()
