"""Who may post to a khata: payments only against what is owed to that wholesaler; advances.

**Per-wholesaler balance for every pair that trades.** ledger_post() compared a wholesaler's
payment with `retailer_wholesaler_credits.outstanding`, which is NULL when the pair has no limit
row; `p_amount > NULL` is not true, so any wholesaler could book a CREDIT against the retailer's
*total* debt and wipe what they owe others. The per-pair figure is now maintained, not summed: the
row exists for every (retailer, wholesaler) that has a ledger entry, and `credit_limit` NULL means
"no per-wholesaler limit" (the row then only carries the balance). Why maintained rather than an
index-backed `sum()` over the pair's entries: the ledger is partitioned by month, so a sum reads
every month's index (and the archived months' checkpoints) and grows with the pair's history, on
the hot path of every payment; the maintained row is one primary-key lookup under the account
lock that ledger_post already holds, and `thok check` recomputes it from the entries. Existing
pairs without a row are backfilled from the ledger (and the archive's latest checkpoints).

**Advances.** A cancellation (a correcting CREDIT) may exceed what is owed after a part payment;
that excess is money the retailer has paid and must get back or use. Both credit tables get an
`advance` column (>= 0): CHECK `outstanding = 0 OR advance = 0` (never both), and the limit CHECK
becomes `outstanding + held <= credit_limit + advance` (an advance is credit the retailer brings;
the next order's DEBIT uses it first). Outstanding stays a debt, never negative, so every reader
of `outstanding` keeps its meaning. A ledger entry's `balance_after` is the net after it
(outstanding - advance): negative means an advance. Its CHECK `balance_after >= 0` becomes
`balance_after >= 0 OR entry_type = 'DEBIT' OR reverses_entry_id IS NOT NULL`: a payment never
leaves a credit balance (payments beyond the debt are still refused); only a correction creates an
advance, and a DEBIT may leave part of one. The old "a correction is a CREDIT" CHECK goes, because
an admin's reversal of a wrongly booked payment is a DEBIT that references it; in its place, a
correction is never itself a payment.

**ledger_post() (same signature and result, CREATE OR REPLACE)**, still one round trip:
- a CREDIT that is not a correction (a payment) must fit what is owed to the wholesaler it names
  (pair outstanding; no row means nothing is owed: outcome `not_owed`), and the total outstanding;
- a payment recorded by a wholesaler (`retailer_payments.recorded_by_wholesaler_id`) must name that
  wholesaler: a wholesaler moves only its own pair's money (outcome `not_owed` otherwise);
- a correction must answer an entry of the other type, for the same retailer and wholesaler, and
  all corrections of it together never exceed it (outcome `bad_correction`): nobody can mint an
  advance or move debt between wholesalers by calling the function with made-up ids;
- a DEBIT must fit the limit plus any advance (overall and per wholesaler, when a limit is set).
The balances move by the net, which lands on `outstanding` or `advance` by its sign.

A new row of either credit table starts at zero balance unless written by the tables' owner (a
trigger): ledger_post() runs as the owner (0007), so a role that may only INSERT limits cannot
invent a pair's debt to make room for a payment.

Downgrade restores the old function and CHECKs; it fails while any advance exists (as it should:
the old schema cannot hold one).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREDIT_TABLES = ("credit_accounts", "retailer_wholesaler_credits")
OLD_LIMIT = "outstanding >= 0 AND held >= 0 AND outstanding + held <= credit_limit"
NEW_LIMIT = "outstanding >= 0 AND held >= 0 AND (credit_limit IS NULL OR outstanding + held <= credit_limit + advance)"
ADVANCE = "advance >= 0 AND (outstanding = 0 OR advance = 0)"
CREDIT_BALANCE = "balance_after >= 0 OR entry_type = 'DEBIT' OR reverses_entry_id IS NOT NULL"

LEDGER_POST = """
CREATE OR REPLACE FUNCTION ledger_post(
    p_entry_type ledger_entry_type, p_retailer_id bigint, p_amount numeric, p_idempotency_key text,
    p_description text, p_order_id bigint, p_wholesaler_id bigint, p_payment_id bigint,
    p_reverses_entry_id bigint, p_release_held numeric
) RETURNS TABLE (
    outcome text, credit_limit numeric, outstanding numeric, held numeric,
    per_credit_limit numeric, per_outstanding numeric, per_held numeric, entry ledger_entries
) LANGUAGE plpgsql AS $$
DECLARE
    delta numeric := CASE WHEN p_entry_type = 'DEBIT' THEN p_amount ELSE -p_amount END;
    advance numeric;
    per_advance numeric := 0;
    per_found boolean := false;
    per_release numeric := 0;
    net numeric;
    per_net numeric;
    recorder bigint;
    orig_found boolean;
    orig_type ledger_entry_type;
    orig_amount numeric;
    orig_wholesaler bigint;
    corrected numeric;
BEGIN
    SELECT a.credit_limit, a.outstanding, a.held, a.advance INTO credit_limit, outstanding, held, advance
        FROM credit_accounts a WHERE a.retailer_id = p_retailer_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'no_account';
        RETURN NEXT;
        RETURN;
    END IF;
    IF p_wholesaler_id IS NOT NULL THEN
        SELECT c.credit_limit, c.outstanding, c.held, c.advance INTO per_credit_limit, per_outstanding, per_held, per_advance
            FROM retailer_wholesaler_credits c
            WHERE c.retailer_id = p_retailer_id AND c.wholesaler_id = p_wholesaler_id FOR UPDATE;
        per_found := FOUND;
        per_release := least(p_release_held, coalesce(per_held, 0));
    END IF;

    IF EXISTS (SELECT 1 FROM ledger_idempotency_keys k WHERE k.idempotency_key = p_idempotency_key) THEN
        outcome := 'duplicate';
    ELSIF p_reverses_entry_id IS NOT NULL THEN
        -- A correction answers a real entry of the other type, for the same pair, and never more
        -- than is left of it. Rare (cancellations, reversals), so the scan of the retailer's
        -- entries is paid only here.
        SELECT e.entry_type, e.amount, e.wholesaler_id INTO orig_type, orig_amount, orig_wholesaler
            FROM ledger_entries e WHERE e.retailer_id = p_retailer_id AND e.id = p_reverses_entry_id;
        orig_found := FOUND;
        SELECT coalesce(sum(e.amount), 0) INTO corrected FROM ledger_entries e
            WHERE e.retailer_id = p_retailer_id AND e.reverses_entry_id = p_reverses_entry_id;
        IF NOT orig_found OR orig_type = p_entry_type OR orig_wholesaler IS DISTINCT FROM p_wholesaler_id
           OR corrected + p_amount > orig_amount OR p_payment_id IS NOT NULL THEN
            outcome := 'bad_correction';
        END IF;
    ELSIF p_entry_type = 'CREDIT' THEN
        IF p_payment_id IS NOT NULL THEN
            SELECT p.recorded_by_wholesaler_id INTO recorder FROM retailer_payments p WHERE p.id = p_payment_id;
        END IF;
        -- The pair first: a wholesaler that is owed nothing learns nothing about the total.
        IF recorder IS NOT NULL AND recorder IS DISTINCT FROM p_wholesaler_id THEN
            outcome := 'not_owed';
        ELSIF p_wholesaler_id IS NOT NULL AND coalesce(per_outstanding, 0) = 0 THEN
            outcome := 'not_owed';  -- no row, or nothing owed: nothing to pay towards
        ELSIF p_wholesaler_id IS NOT NULL AND p_amount > per_outstanding THEN
            outcome := 'overpaid_wholesaler';
        ELSIF p_amount > outstanding THEN
            outcome := 'overpaid';  -- no advance payments: a CREDIT beyond the debt is refused
        END IF;
    END IF;
    IF outcome IS NULL AND p_entry_type = 'DEBIT' THEN
        IF p_release_held < 0 OR p_release_held > held THEN
            outcome := 'bad_release';
        ELSIF p_amount > credit_limit + advance - outstanding - held + p_release_held THEN
            outcome := 'over_limit';
        ELSIF p_amount > per_credit_limit + per_advance - per_outstanding - per_held + per_release THEN
            outcome := 'over_wholesaler_limit';  -- NULL (no per-wholesaler limit) is not true
        END IF;
    END IF;
    IF outcome IS NOT NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    net := outstanding - advance + delta;
    -- Stamped with the clock under the lock (not the transaction's start): per retailer, a later
    -- entry never carries an earlier created_at, so "newest first" may read recent months first.
    INSERT INTO ledger_entries (entry_type, amount, retailer_id, wholesaler_id, order_id, payment_id,
                                reverses_entry_id, description, idempotency_key, balance_after, created_at)
    VALUES (p_entry_type, p_amount, p_retailer_id, p_wholesaler_id, p_order_id, p_payment_id,
            p_reverses_entry_id, p_description, p_idempotency_key, net, clock_timestamp())
    RETURNING * INTO entry;
    UPDATE credit_accounts a SET outstanding = greatest(net, 0), advance = greatest(-net, 0),
        held = a.held - p_release_held, updated_at = now() WHERE a.retailer_id = p_retailer_id;
    IF p_wholesaler_id IS NOT NULL THEN
        per_net := coalesce(per_outstanding, 0) - coalesce(per_advance, 0) + delta;
        IF per_found THEN
            UPDATE retailer_wholesaler_credits c SET outstanding = greatest(per_net, 0),
                advance = greatest(-per_net, 0), held = c.held - per_release, updated_at = now()
                WHERE c.retailer_id = p_retailer_id AND c.wholesaler_id = p_wholesaler_id;
        ELSE
            -- First entry for the pair (the account lock keeps a second one from racing us here).
            INSERT INTO retailer_wholesaler_credits (retailer_id, wholesaler_id, credit_limit, outstanding, advance)
            VALUES (p_retailer_id, p_wholesaler_id, NULL, greatest(per_net, 0), greatest(-per_net, 0));
        END IF;
    END IF;
    outcome := 'posted';
    RETURN NEXT;
END;
$$;
"""

# A balance row is born at zero: only ledger_post() (the owner's, SECURITY DEFINER from 0007) may
# write one with a balance. Otherwise a role that may INSERT a pair's row (the runtime role, for
# limits) could invent what a shop owes a wholesaler and book that wholesaler's payment against it.
BALANCES_START_AT_ZERO = """
CREATE FUNCTION credit_balance_starts_at_zero() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.outstanding <> 0 OR NEW.advance <> 0) AND NOT pg_has_role(
        current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = TG_RELID), 'MEMBER') THEN
        RAISE EXCEPTION '%: a new balance starts at zero; only ledger_post() moves it', TG_TABLE_NAME
            USING ERRCODE = 'check_violation', CONSTRAINT = 'trg_' || TG_TABLE_NAME || '_balance_starts_at_zero',
                  TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER trg_credit_accounts_balance_starts_at_zero BEFORE INSERT ON credit_accounts
    FOR EACH ROW EXECUTE FUNCTION credit_balance_starts_at_zero();
CREATE TRIGGER trg_retailer_wholesaler_credits_balance_starts_at_zero BEFORE INSERT ON retailer_wholesaler_credits
    FOR EACH ROW EXECUTE FUNCTION credit_balance_starts_at_zero();
"""

# Every pair with entries gets its row: the hot ledger's sum plus the archive's latest checkpoint.
BACKFILL = """
INSERT INTO retailer_wholesaler_credits (retailer_id, wholesaler_id, credit_limit, outstanding, advance)
SELECT retailer_id, wholesaler_id, NULL, greatest(sum(net), 0), greatest(-sum(net), 0)
FROM (
    SELECT retailer_id, wholesaler_id, sum(CASE WHEN entry_type = 'DEBIT' THEN amount ELSE -amount END) AS net
    FROM ledger_entries WHERE wholesaler_id IS NOT NULL GROUP BY retailer_id, wholesaler_id
    UNION ALL
    (SELECT DISTINCT ON (retailer_id, wholesaler_id) retailer_id, wholesaler_id, net
     FROM ledger_checkpoints WHERE wholesaler_id IS NOT NULL ORDER BY retailer_id, wholesaler_id, as_of DESC)
) pairs
GROUP BY retailer_id, wholesaler_id
ON CONFLICT (retailer_id, wholesaler_id) DO NOTHING
"""


def upgrade() -> None:
    for table in CREDIT_TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN advance numeric(14, 2) NOT NULL DEFAULT 0")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT ck_{table}_outstanding_held_within_limit")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT ck_{table}_outstanding_held_within_limit CHECK ({NEW_LIMIT})")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT ck_{table}_advance_only_without_debt CHECK ({ADVANCE})")
    op.execute("ALTER TABLE retailer_wholesaler_credits ALTER COLUMN credit_limit DROP NOT NULL")
    op.execute("ALTER TABLE retailer_wholesaler_credits ALTER COLUMN credit_limit DROP DEFAULT")
    op.execute(BACKFILL)
    # The new CHECKs are weaker than the ones they replace, so validating the existing rows (one
    # scan of each month, at migration time) cannot fail.
    op.execute("ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_entries_balance_after_non_negative")
    op.execute("ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_entries_correction_is_credit")
    op.execute(
        f"ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_entries_credit_balance_only_from_correction "
        f"CHECK ({CREDIT_BALANCE})"
    )
    op.execute(
        "ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_entries_correction_not_payment "
        "CHECK (reverses_entry_id IS NULL OR payment_id IS NULL)"
    )
    op.execute(LEDGER_POST)
    op.execute(BALANCES_START_AT_ZERO)


def downgrade() -> None:
    for table in CREDIT_TABLES:
        op.execute(f"DROP TRIGGER trg_{table}_balance_starts_at_zero ON {table}")
    op.execute("DROP FUNCTION credit_balance_starts_at_zero()")
    op.execute("ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_entries_correction_not_payment")
    op.execute("ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_entries_credit_balance_only_from_correction")
    op.execute(
        "ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_entries_correction_is_credit "
        "CHECK (reverses_entry_id IS NULL OR entry_type = 'CREDIT')"
    )
    op.execute(
        "ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_entries_balance_after_non_negative "
        "CHECK (balance_after >= 0)"
    )
    # Rows that only carried a balance (no limit) did not exist before.
    op.execute("DELETE FROM retailer_wholesaler_credits WHERE credit_limit IS NULL")
    op.execute("ALTER TABLE retailer_wholesaler_credits ALTER COLUMN credit_limit SET DEFAULT 0")
    op.execute("ALTER TABLE retailer_wholesaler_credits ALTER COLUMN credit_limit SET NOT NULL")
    for table in CREDIT_TABLES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT ck_{table}_advance_only_without_debt")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT ck_{table}_outstanding_held_within_limit")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT ck_{table}_outstanding_held_within_limit CHECK ({OLD_LIMIT})")
        op.execute(f"ALTER TABLE {table} DROP COLUMN advance")
    op.execute("DROP FUNCTION ledger_post")
    op.execute(_previous_ledger_post())


def _previous_ledger_post() -> str:
    """0004's function text (migration modules are not importable by name: they start with a digit)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).with_name("0004_ledger_post.py")
    spec = importlib.util.spec_from_file_location("thok_migration_0004", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.LEDGER_POST)
