"""`thok check`: the invariants the app maintains, recomputed from the raw rows.

Each check is one set-based query (GROUP BY / window over the whole table, no per-row loop), so
it runs on millions of ledger entries; each returns at most MAX_PER_CHECK offending rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.money import npr

MAX_PER_CHECK = 50
SIGNED = "CASE WHEN entry_type = 'DEBIT' THEN amount ELSE -amount END"
# Archived months (`thok archive`) leave a checkpoint per account: their sum (net) and the last
# archived balance. The hot ledger continues from the latest one, so each check adds it back.
CHECKPOINT = """(SELECT DISTINCT ON (retailer_id) retailer_id, net, balance_after, last_entry_id
                 FROM ledger_checkpoints WHERE wholesaler_id IS NULL ORDER BY retailer_id, as_of DESC)"""
WHOLESALER_CHECKPOINT = """(SELECT DISTINCT ON (retailer_id, wholesaler_id) retailer_id, wholesaler_id, net
                 FROM ledger_checkpoints WHERE wholesaler_id IS NOT NULL
                 ORDER BY retailer_id, wholesaler_id, as_of DESC)"""


@dataclass(frozen=True)
class Problem:
    check: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"


# (name, SQL, how to word one offending row)
CHECKS: list[tuple[str, str, Callable[[Any], str]]] = [
    (
        "outstanding",
        f"""
        WITH sums AS (
            SELECT retailer_id, SUM(net) AS net FROM (
                SELECT retailer_id, SUM({SIGNED}) AS net FROM ledger_entries GROUP BY retailer_id
                UNION ALL SELECT retailer_id, net FROM {CHECKPOINT} cp) x
            GROUP BY retailer_id
        )
        SELECT COALESCE(ca.retailer_id, s.retailer_id) AS retailer_id, ca.outstanding - ca.advance AS outstanding,
               ca.advance, COALESCE(s.net, 0) AS net
        FROM credit_accounts ca FULL JOIN sums s ON s.retailer_id = ca.retailer_id
        WHERE ca.outstanding - ca.advance IS DISTINCT FROM COALESCE(s.net, 0)
        ORDER BY 1 LIMIT :n
        """,
        lambda r: (
            f"retailer {r.retailer_id}: ledger entries but no credit account (ledger sum NPR {npr(r.net)})"
            if r.outstanding is None
            else f"retailer {r.retailer_id}: credit_accounts.outstanding "
            f"{'less its advance ' if r.advance else ''}is NPR {npr(r.outstanding)} "
            f"but the ledger sums to NPR {npr(r.net)}"
        ),
    ),
    (
        "wholesaler-outstanding",
        f"""
        WITH sums AS (
            SELECT retailer_id, wholesaler_id, SUM(net) AS net FROM (
                SELECT retailer_id, wholesaler_id, SUM({SIGNED}) AS net FROM ledger_entries
                WHERE wholesaler_id IS NOT NULL GROUP BY retailer_id, wholesaler_id
                UNION ALL SELECT retailer_id, wholesaler_id, net FROM {WHOLESALER_CHECKPOINT} cp) x
            GROUP BY retailer_id, wholesaler_id
        )
        SELECT retailer_id, wholesaler_id, c.outstanding - c.advance AS outstanding, COALESCE(s.net, 0) AS net
        FROM retailer_wholesaler_credits c FULL JOIN sums s USING (retailer_id, wholesaler_id)
        WHERE c.outstanding - c.advance IS DISTINCT FROM COALESCE(s.net, 0)
        ORDER BY 1, 2 LIMIT :n
        """,
        # Every pair with entries has its row (ledger_post keeps it, migration 0006): the balance a
        # wholesaler's payment is checked against.
        lambda r: (
            f"retailer {r.retailer_id} with wholesaler {r.wholesaler_id}: "
            + (
                f"ledger entries (sum NPR {npr(r.net)}) but no balance row"
                if r.outstanding is None
                else f"outstanding less advance is NPR {npr(r.outstanding)} but the ledger sums to NPR {npr(r.net)}"
            )
        ),
    ),
    (
        "latest-balance",
        f"""
        SELECT l.retailer_id, l.id, l.balance_after, ca.outstanding - ca.advance AS outstanding
        FROM (SELECT DISTINCT ON (retailer_id) retailer_id, id, balance_after
              FROM (SELECT retailer_id, id, balance_after FROM ledger_entries
                    UNION ALL SELECT retailer_id, last_entry_id, balance_after FROM {CHECKPOINT} cp) x
              ORDER BY retailer_id, id DESC) l
        JOIN credit_accounts ca ON ca.retailer_id = l.retailer_id
        WHERE l.balance_after <> ca.outstanding - ca.advance
        ORDER BY 1 LIMIT :n
        """,
        lambda r: (
            f"retailer {r.retailer_id}: latest entry #{r.id} says balance NPR {npr(r.balance_after)}, "
            f"the account says NPR {npr(r.outstanding)}"
        ),
    ),
    (
        "running-balance",
        f"""
        SELECT DISTINCT ON (retailer_id) retailer_id, id, balance_after, running
        FROM (SELECT e.retailer_id, e.id, e.balance_after,
                     COALESCE(cp.net, 0) + SUM({SIGNED}) OVER (PARTITION BY e.retailer_id ORDER BY e.id) AS running
              FROM ledger_entries e LEFT JOIN {CHECKPOINT} cp ON cp.retailer_id = e.retailer_id) t
        WHERE balance_after <> running
        ORDER BY retailer_id, id LIMIT :n
        """,
        lambda r: (
            f"retailer {r.retailer_id}: entry #{r.id} records balance NPR {npr(r.balance_after)} "
            f"but the entries up to it sum to NPR {npr(r.running)}"
        ),
    ),
    (
        "corrections",
        """
        SELECT c.retailer_id, c.reverses_entry_id AS id, o.amount, SUM(c.amount) AS corrected
        FROM ledger_entries c
        LEFT JOIN (SELECT id, retailer_id, wholesaler_id, entry_type, amount FROM ledger_entries
                   UNION ALL
                   SELECT id, retailer_id, wholesaler_id, entry_type, amount FROM archive.ledger_entries) o
               ON o.id = c.reverses_entry_id AND o.retailer_id = c.retailer_id
        WHERE c.reverses_entry_id IS NOT NULL
        GROUP BY c.retailer_id, c.reverses_entry_id, o.amount
        HAVING o.amount IS NULL OR SUM(c.amount) > o.amount
            OR bool_or(o.entry_type = c.entry_type OR o.wholesaler_id IS DISTINCT FROM c.wholesaler_id)
        ORDER BY 1, 2 LIMIT :n
        """,
        # Corrections (cancellations, payment reversals) are what may create an advance; each
        # answers a real entry of the other type for the same pair and never exceeds it.
        lambda r: (
            f"retailer {r.retailer_id}: corrections of entry #{r.id} "
            + (
                "point at no entry of theirs"
                if r.amount is None
                else f"total NPR {npr(r.corrected)} against its NPR {npr(r.amount)}, or are of its type or another pair"
            )
        ),
    ),
    (
        "reserved-stock",
        """
        SELECT wp.id, wp.wholesaler_id, wp.product_id, wp.reserved_stock, COALESCE(r.q, 0) AS live
        FROM wholesaler_products wp
        LEFT JOIN (SELECT wholesaler_product_id, SUM(quantity) AS q FROM stock_reservations
                   WHERE status = 'ACTIVE' GROUP BY wholesaler_product_id) r
               ON r.wholesaler_product_id = wp.id
        WHERE wp.reserved_stock <> COALESCE(r.q, 0)
        ORDER BY 1 LIMIT :n
        """,
        lambda r: (
            f"wholesaler_products #{r.id} (wholesaler {r.wholesaler_id}, product {r.product_id}): "
            f"reserved_stock is {r.reserved_stock:f} but ACTIVE reservations total {r.live:f}"
        ),
    ),
    (
        "two-winners",
        """
        SELECT o.id, o.ref, COUNT(*) AS winners FROM vendor_offers v JOIN orders o ON o.id = v.order_id
        WHERE v.status = 'WON' GROUP BY o.id, o.ref HAVING COUNT(*) > 1
        ORDER BY 1 LIMIT :n
        """,
        lambda r: f"order {r.ref} (#{r.id}) has {r.winners} WON offers",
    ),
    (
        "winner-mismatch",
        """
        SELECT o.id, o.ref, o.final_wholesaler_id, v.wholesaler_id AS won_by
        FROM orders o LEFT JOIN vendor_offers v ON v.order_id = o.id AND v.status = 'WON'
        WHERE o.final_wholesaler_id IS DISTINCT FROM v.wholesaler_id
        ORDER BY 1 LIMIT :n
        """,
        lambda r: (
            f"order {r.ref} (#{r.id}): final_wholesaler_id is {r.final_wholesaler_id} "
            f"but the WON offer is {'missing' if r.won_by is None else 'from wholesaler ' + str(r.won_by)}"
        ),
    ),
    (
        "payment-entry",
        """
        SELECT p.id, p.retailer_id, p.amount, COUNT(e.id) AS entries
        FROM retailer_payments p LEFT JOIN (
            SELECT id, payment_id, amount, retailer_id FROM ledger_entries WHERE payment_id IS NOT NULL
            UNION ALL
            SELECT id, payment_id, amount, retailer_id FROM archive.ledger_entries WHERE payment_id IS NOT NULL
        ) e ON e.payment_id = p.id
        GROUP BY p.id
        HAVING COUNT(e.id) <> 1 OR bool_or(e.amount <> p.amount OR e.retailer_id <> p.retailer_id)
        ORDER BY 1 LIMIT :n
        """,
        lambda r: (
            f"payment #{r.id} (retailer {r.retailer_id}, NPR {npr(r.amount)}) has "
            + (
                f"{r.entries} ledger entries, expected exactly one"
                if r.entries != 1
                else "a CREDIT entry for another amount or retailer"
            )
        ),
    ),
]


def run_checks(session: Session) -> list[Problem]:
    """Every broken invariant found, in check order; an empty list means the books agree."""
    problems: list[Problem] = []
    for name, sql, describe in CHECKS:
        rows = session.execute(text(sql), {"n": MAX_PER_CHECK + 1}).all()
        problems += [Problem(name, describe(r)) for r in rows[:MAX_PER_CHECK]]
        if len(rows) > MAX_PER_CHECK:
            problems.append(Problem(name, f"more than {MAX_PER_CHECK} rows fail this check; showing the first"))
    return problems
