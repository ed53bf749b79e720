"""ledger_post(): one round trip for a khata posting.

A posting used to be four statements from Python (lock the account, INSERT the entry if its key is
free, UPDATE the account, and the per-wholesaler row), each with its own round trip and a few
hundred microseconds of SQLAlchemy work; posting ran at 0.18 of pgbench's TPC-B rate. The same
steps now run inside PostgreSQL, in the same order and under the same lock:

1. lock the retailer's credit account row (and the per-wholesaler row, when there is one);
2. an idempotency key already booked means a replay: nothing is written (`duplicate`);
3. a DEBIT must fit the limit (less what is held, plus the hold it releases), a CREDIT must not
   exceed what is owed; otherwise nothing is written and the outcome says which rule refused;
4. INSERT the entry with its running balance, stamped with the clock time taken under the lock
   (so per retailer created_at never runs backwards against id), UPDATE the balances, return it.

Each statement of a PL/pgSQL function takes a fresh snapshot (READ COMMITTED), so step 2 runs
after the lock is held and sees any posting for this retailer that committed while we waited,
as the separate statements did. A refusal is an outcome, not an exception: the caller's
transaction stays usable and Python words the reply (domain/ledger.py). The CHECKs on the credit
tables and the key guard trigger are still the last word.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER_POST = """
CREATE FUNCTION ledger_post(
    p_entry_type ledger_entry_type, p_retailer_id bigint, p_amount numeric, p_idempotency_key text,
    p_description text, p_order_id bigint, p_wholesaler_id bigint, p_payment_id bigint,
    p_reverses_entry_id bigint, p_release_held numeric
) RETURNS TABLE (
    outcome text, credit_limit numeric, outstanding numeric, held numeric,
    per_credit_limit numeric, per_outstanding numeric, per_held numeric, entry ledger_entries
) LANGUAGE plpgsql AS $$
DECLARE
    delta numeric := CASE WHEN p_entry_type = 'DEBIT' THEN p_amount ELSE -p_amount END;
    per_release numeric := 0;
BEGIN
    SELECT a.credit_limit, a.outstanding, a.held INTO credit_limit, outstanding, held
        FROM credit_accounts a WHERE a.retailer_id = p_retailer_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'no_account';
        RETURN NEXT;
        RETURN;
    END IF;
    IF p_wholesaler_id IS NOT NULL THEN
        SELECT c.credit_limit, c.outstanding, c.held INTO per_credit_limit, per_outstanding, per_held
            FROM retailer_wholesaler_credits c
            WHERE c.retailer_id = p_retailer_id AND c.wholesaler_id = p_wholesaler_id FOR UPDATE;
        per_release := least(p_release_held, coalesce(per_held, 0));
    END IF;

    IF EXISTS (SELECT 1 FROM ledger_idempotency_keys k WHERE k.idempotency_key = p_idempotency_key) THEN
        outcome := 'duplicate';
    ELSIF p_entry_type = 'DEBIT' THEN
        IF p_release_held < 0 OR p_release_held > held THEN
            outcome := 'bad_release';
        ELSIF p_amount > credit_limit - outstanding - held + p_release_held THEN
            outcome := 'over_limit';
        ELSIF p_amount > per_credit_limit - per_outstanding - per_held + per_release THEN
            outcome := 'over_wholesaler_limit';  -- NULL (no per-wholesaler row) is not true
        END IF;
    ELSIF p_amount > outstanding THEN
        outcome := 'overpaid';  -- no advance payments: a CREDIT beyond the debt is refused
    ELSIF p_amount > per_outstanding THEN
        outcome := 'overpaid_wholesaler';
    END IF;
    IF outcome IS NOT NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    -- Stamped with the clock under the lock (not the transaction's start): per retailer, a later
    -- entry never carries an earlier created_at, so "newest first" may read recent months first.
    INSERT INTO ledger_entries (entry_type, amount, retailer_id, wholesaler_id, order_id, payment_id,
                                reverses_entry_id, description, idempotency_key, balance_after, created_at)
    VALUES (p_entry_type, p_amount, p_retailer_id, p_wholesaler_id, p_order_id, p_payment_id,
            p_reverses_entry_id, p_description, p_idempotency_key, outstanding + delta, clock_timestamp())
    RETURNING * INTO entry;
    UPDATE credit_accounts a SET outstanding = a.outstanding + delta, held = a.held - p_release_held,
        updated_at = now() WHERE a.retailer_id = p_retailer_id;
    IF per_credit_limit IS NOT NULL THEN
        UPDATE retailer_wholesaler_credits c SET outstanding = c.outstanding + delta,
            held = c.held - per_release, updated_at = now()
            WHERE c.retailer_id = p_retailer_id AND c.wholesaler_id = p_wholesaler_id;
    END IF;
    outcome := 'posted';
    RETURN NEXT;
END;
$$;
"""


def upgrade() -> None:
    op.execute(LEDGER_POST)


def downgrade() -> None:
    op.execute("DROP FUNCTION ledger_post")
