"""Partition ledger_entries by month (Nepal time); idempotency guard; checkpoints; the archive schema.

ledger_entries becomes `PARTITION BY RANGE (created_at)`, one partition per Nepal calendar month
(boundaries at 00:00 Asia/Kathmandu, so a month's statement touches exactly one partition), plus a
DEFAULT partition. How each guarantee of 0001 survives:

- Append-only: the row triggers (no UPDATE, no DELETE) are created on the parent, and PostgreSQL
  clones row triggers to every partition, present and future. TRUNCATE triggers are statement
  triggers and are *not* cloned, so `ledger_ensure_partition()` adds one to each partition it makes
  (and this migration to the default); `thok db verify` checks every partition for all of them.
- Idempotency: a unique index on a partitioned table must contain the partition key, and
  (idempotency_key, created_at) would let the same key land twice at two different times. So the
  key lives in `ledger_idempotency_keys`, a small unpartitioned, append-only table written by an
  INSERT trigger on the ledger in the same transaction; its primary key keeps the name
  `uq_ledger_entries_idempotency_key` (the name errors, tests and metrics know). The same table
  carries the one-CREDIT-per-payment rule (`uq_ledger_entries_payment_id`), which had the same
  problem. It is an AFTER trigger so the row's own CHECKs speak first (a DEBIT with a payment_id is
  refused as such, not as a duplicate payment). The trigger lets the *same* entry (same id and created_at) through again, so rows can be
  relocated between partitions (default -> month) without weakening the guard.
- amount > 0 and the other CHECKs are declared on the parent and inherited by every partition.
- No foreign key points into the ledger (still true; partitioning needs it).

Why a DEFAULT partition: a posting must never fail because the monthly job did not run. The job
(`thok db partitions ensure`, and the RQ maintenance job) keeps 3 months ahead, so the default
stays empty in normal operation; if rows land there, `ledger_ensure_partition()` relocates them
when their month's partition is created, and `thok db verify` says so.

Rows are copied from the old table in id order; the identity continues from the old maximum; old
and new are swapped inside this migration's one transaction, after the copy is checked (count and
sum) against the old table. The old table is held in EXCLUSIVE mode meanwhile: reads go on,
postings wait.

Also: `ledger_checkpoints` (append-only per-account opening balances left behind by `thok archive`)
and the `archive` schema (archived ledger months, attached to `archive.ledger_entries`, and the
manifest), all immutable.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_AHEAD = 3

COLUMNS = (
    "id, entry_type, amount, retailer_id, wholesaler_id, order_id, payment_id, reverses_entry_id, "
    "description, idempotency_key, balance_after, created_at"
)

CHECKS = """
    CONSTRAINT ck_ledger_entries_amount_positive CHECK (amount > 0),
    CONSTRAINT ck_ledger_entries_balance_after_non_negative CHECK (balance_after >= 0),
    CONSTRAINT ck_ledger_entries_payment_is_credit CHECK (payment_id IS NULL OR entry_type = 'CREDIT'),
    CONSTRAINT ck_ledger_entries_correction_is_credit CHECK (reverses_entry_id IS NULL OR entry_type = 'CREDIT')
"""

COLUMN_DEFS = """
    entry_type ledger_entry_type NOT NULL,
    amount numeric(14, 2) NOT NULL,
    retailer_id bigint NOT NULL,
    wholesaler_id bigint,
    order_id bigint,
    payment_id bigint,
    reverses_entry_id bigint,
    description text NOT NULL,
    idempotency_key varchar(200) NOT NULL,
    balance_after numeric(14, 2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
"""

FUNCTIONS = """
-- Immutable tables other than the ledger itself (keys, checkpoints, archive) share one guard.
CREATE FUNCTION thok_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only: % is not allowed', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE FUNCTION ledger_entries_key_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    same boolean;
BEGIN
    INSERT INTO ledger_idempotency_keys (idempotency_key, entry_id, created_at, payment_id)
    VALUES (NEW.idempotency_key, NEW.id, NEW.created_at, NEW.payment_id)
    ON CONFLICT (idempotency_key) DO NOTHING;
    IF NOT FOUND THEN
        -- Taken. Only the very same entry (a relocation between partitions) may pass.
        SELECT k.entry_id = NEW.id AND k.created_at = NEW.created_at INTO same
        FROM ledger_idempotency_keys k WHERE k.idempotency_key = NEW.idempotency_key;
        IF NOT coalesce(same, false) THEN
            RAISE EXCEPTION 'duplicate key value violates unique constraint "uq_ledger_entries_idempotency_key"'
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'uq_ledger_entries_idempotency_key',
                      TABLE = 'ledger_entries', SCHEMA = 'public',
                      DETAIL = format('Key (idempotency_key)=(%s) already exists.', NEW.idempotency_key);
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

-- Creates the partition for the Nepal month starting at `month` (first of a month) unless it
-- exists (hot or archived). Rows of that month already in the default partition are relocated
-- without DELETE: the default is detached, the month and a new default are created, the rows are
-- copied through the parent (the key guard lets the same entries through) and the old default,
-- now checked empty of anything not copied, is dropped.
CREATE FUNCTION ledger_ensure_partition(month date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    part text := format('ledger_entries_%s', to_char(month, 'YYYY_MM'));
    lo timestamptz := month::timestamp AT TIME ZONE 'Asia/Kathmandu';
    hi timestamptz := (month + interval '1 month')::timestamp AT TIME ZONE 'Asia/Kathmandu';
    stray bigint;
    copied bigint;
BEGIN
    IF date_trunc('month', month)::date <> month THEN
        RAISE EXCEPTION 'ledger_ensure_partition: % is not the first of a month', month;
    END IF;
    IF to_regclass(format('public.%I', part)) IS NOT NULL OR to_regclass(format('archive.%I', part)) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO stray FROM ledger_entries_default WHERE created_at >= lo AND created_at < hi;
    IF stray = 0 THEN
        EXECUTE format('CREATE TABLE public.%I PARTITION OF ledger_entries FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
        EXECUTE format('CREATE TRIGGER trg_ledger_entries_no_truncate BEFORE TRUNCATE ON public.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()', part);
        RETURN part;
    END IF;
    LOCK TABLE ledger_entries IN ACCESS EXCLUSIVE MODE;
    ALTER TABLE ledger_entries DETACH PARTITION ledger_entries_default;
    ALTER TABLE ledger_entries_default RENAME TO ledger_entries_default_relocating;
    EXECUTE format('CREATE TABLE public.%I PARTITION OF ledger_entries FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    EXECUTE format('CREATE TRIGGER trg_ledger_entries_no_truncate BEFORE TRUNCATE ON public.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()', part);
    CREATE TABLE ledger_entries_default PARTITION OF ledger_entries DEFAULT;
    CREATE TRIGGER trg_ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries_default
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only();
    INSERT INTO ledger_entries SELECT * FROM ledger_entries_default_relocating ORDER BY id;
    GET DIAGNOSTICS copied = ROW_COUNT;
    IF copied <> (SELECT count(*) FROM ledger_entries_default_relocating) THEN
        RAISE EXCEPTION 'relocation copied % rows of %', copied, (SELECT count(*) FROM ledger_entries_default_relocating);
    END IF;
    DROP TABLE ledger_entries_default_relocating;
    RETURN part;
END;
$$;
"""

ARCHIVE = """
CREATE SCHEMA archive;
-- Archived months are attached here: same columns, same pruning, no foreign keys (the rows they
-- pointed at may be archived too), and no way in except ATTACH by `thok archive`.
CREATE TABLE archive.ledger_entries (
    id bigint NOT NULL,
    {cols},
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX ON archive.ledger_entries (retailer_id, id);
CREATE INDEX ON archive.ledger_entries (retailer_id, created_at);
CREATE TRIGGER trg_archive_no_insert BEFORE INSERT ON archive.ledger_entries
    FOR EACH ROW EXECUTE FUNCTION thok_append_only();
CREATE TRIGGER trg_ledger_entries_no_update BEFORE UPDATE ON archive.ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
CREATE TRIGGER trg_ledger_entries_no_delete BEFORE DELETE ON archive.ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
CREATE TRIGGER trg_ledger_entries_no_truncate BEFORE TRUNCATE ON archive.ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only();

-- What was archived, counted and summed before it moved; checked again after.
CREATE TABLE archive.manifest (
    kind text NOT NULL,
    period date NOT NULL,
    table_name text NOT NULL,
    row_count bigint NOT NULL,
    debit_sum numeric(16, 2) NOT NULL DEFAULT 0,
    credit_sum numeric(16, 2) NOT NULL DEFAULT 0,
    archived_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, period)
);
CREATE TRIGGER trg_manifest_append_only BEFORE UPDATE OR DELETE ON archive.manifest
    FOR EACH ROW EXECUTE FUNCTION thok_append_only();
CREATE TRIGGER trg_manifest_no_truncate BEFORE TRUNCATE ON archive.manifest
    FOR EACH STATEMENT EXECUTE FUNCTION thok_append_only();
"""

KEYS_AND_CHECKPOINTS = """
CREATE TABLE ledger_idempotency_keys (
    idempotency_key varchar(200) NOT NULL,
    entry_id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    payment_id bigint,
    CONSTRAINT uq_ledger_entries_idempotency_key PRIMARY KEY (idempotency_key)
);
CREATE UNIQUE INDEX uq_ledger_entries_payment_id ON ledger_idempotency_keys (payment_id)
    WHERE payment_id IS NOT NULL;
CREATE TRIGGER trg_ledger_idempotency_keys_append_only BEFORE UPDATE OR DELETE ON ledger_idempotency_keys
    FOR EACH ROW EXECUTE FUNCTION thok_append_only();
CREATE TRIGGER trg_ledger_idempotency_keys_no_truncate BEFORE TRUNCATE ON ledger_idempotency_keys
    FOR EACH STATEMENT EXECUTE FUNCTION thok_append_only();

CREATE TABLE ledger_checkpoints (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    retailer_id bigint NOT NULL,
    wholesaler_id bigint,
    as_of timestamptz NOT NULL,
    net numeric(14, 2) NOT NULL,
    balance_after numeric(14, 2),
    last_entry_id bigint NOT NULL,
    entries bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_ledger_checkpoints PRIMARY KEY (id),
    CONSTRAINT fk_ledger_checkpoints_retailer_id_retailers FOREIGN KEY (retailer_id)
        REFERENCES retailers (id) ON DELETE RESTRICT,
    CONSTRAINT fk_ledger_checkpoints_wholesaler_id_wholesalers FOREIGN KEY (wholesaler_id)
        REFERENCES wholesalers (id) ON DELETE RESTRICT,
    CONSTRAINT ck_ledger_checkpoints_entries_positive CHECK (entries > 0)
);
CREATE UNIQUE INDEX uq_ledger_checkpoints_retailer_id_wholesaler_id_as_of
    ON ledger_checkpoints (retailer_id, wholesaler_id, as_of) NULLS NOT DISTINCT;
CREATE INDEX ix_ledger_checkpoints_wholesaler_id ON ledger_checkpoints (wholesaler_id);
CREATE TRIGGER trg_ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION thok_append_only();
CREATE TRIGGER trg_ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION thok_append_only();
"""

PARENT_INDEXES_AND_FKS = """
ALTER TABLE ledger_entries ADD CONSTRAINT pk_ledger_entries PRIMARY KEY (id, created_at);
CREATE INDEX ix_ledger_entries_retailer_id_created_at ON ledger_entries (retailer_id, created_at);
CREATE INDEX ix_ledger_entries_retailer_id_id ON ledger_entries (retailer_id, id);
CREATE INDEX ix_ledger_entries_order_id ON ledger_entries (order_id);
CREATE INDEX ix_ledger_entries_wholesaler_id ON ledger_entries (wholesaler_id);
CREATE INDEX ix_ledger_entries_payment_id ON ledger_entries (payment_id) WHERE payment_id IS NOT NULL;
ALTER TABLE ledger_entries
    ADD CONSTRAINT fk_ledger_entries_retailer_id_retailers FOREIGN KEY (retailer_id) REFERENCES retailers (id) ON DELETE RESTRICT,
    ADD CONSTRAINT fk_ledger_entries_wholesaler_id_wholesalers FOREIGN KEY (wholesaler_id) REFERENCES wholesalers (id) ON DELETE RESTRICT,
    ADD CONSTRAINT fk_ledger_entries_order_id_orders FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE RESTRICT,
    ADD CONSTRAINT fk_ledger_entries_payment_id_retailer_payments FOREIGN KEY (payment_id) REFERENCES retailer_payments (id) ON DELETE RESTRICT;
CREATE TRIGGER trg_ledger_entries_key_guard AFTER INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_key_guard();
CREATE TRIGGER trg_ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
CREATE TRIGGER trg_ledger_entries_no_delete BEFORE DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
CREATE TRIGGER trg_ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only();
"""


def _copy_checked(source: str, target: str) -> None:
    """Copy every row in id order, then refuse to go on unless count and sum agree."""
    op.execute(f"INSERT INTO {target} ({COLUMNS}) SELECT {COLUMNS} FROM {source} ORDER BY id")
    op.execute(
        f"""
        DO $$
        DECLARE a record; b record;
        BEGIN
            SELECT count(*) AS n, coalesce(sum(amount), 0) AS s INTO a FROM {source};
            SELECT count(*) AS n, coalesce(sum(amount), 0) AS s INTO b FROM {target};
            IF a.n <> b.n OR a.s <> b.s THEN
                RAISE EXCEPTION 'ledger copy mismatch: % rows / % in {source}, % rows / % in {target}', a.n, a.s, b.n, b.s;
            END IF;
        END $$;
        """
    )


def upgrade() -> None:
    op.execute("LOCK TABLE ledger_entries IN EXCLUSIVE MODE")  # reads go on, postings wait
    # Free the names the key table takes over; the old table is dropped at the end.
    op.execute(
        "ALTER TABLE ledger_entries RENAME CONSTRAINT uq_ledger_entries_idempotency_key TO uq_ledger_entries_key_old"
    )
    op.execute("ALTER INDEX uq_ledger_entries_payment_id RENAME TO uq_ledger_entries_payment_id_old")
    op.execute(FUNCTIONS)
    op.execute(KEYS_AND_CHECKPOINTS)
    op.execute(ARCHIVE.format(cols=COLUMN_DEFS))
    op.execute(
        f"CREATE TABLE ledger_entries_partitioned (id bigint GENERATED BY DEFAULT AS IDENTITY, {COLUMN_DEFS}, {CHECKS})"
        " PARTITION BY RANGE (created_at)"
    )
    op.execute("CREATE TABLE ledger_entries_default PARTITION OF ledger_entries_partitioned DEFAULT")
    # The partitions cover every month that holds data, through MONTHS_AHEAD months from now.
    # Indexes, the PK and FKs come after the copy (one sorted build each, not row-by-row inserts).
    op.execute(
        f"""
        DO $$
        DECLARE m date;
        BEGIN
            FOR m IN
                SELECT generate_series(
                    least(coalesce((SELECT date_trunc('month', min(created_at) AT TIME ZONE 'Asia/Kathmandu')
                                    FROM ledger_entries), now() AT TIME ZONE 'Asia/Kathmandu'),
                          date_trunc('month', now() AT TIME ZONE 'Asia/Kathmandu')),
                    date_trunc('month', now() AT TIME ZONE 'Asia/Kathmandu') + interval '{MONTHS_AHEAD} months',
                    interval '1 month')::date
            LOOP
                EXECUTE format('CREATE TABLE %I PARTITION OF ledger_entries_partitioned FOR VALUES FROM (%L) TO (%L)',
                               'ledger_entries_' || to_char(m, 'YYYY_MM'),
                               m::timestamp AT TIME ZONE 'Asia/Kathmandu',
                               (m + interval '1 month')::timestamp AT TIME ZONE 'Asia/Kathmandu');
                EXECUTE format('CREATE TRIGGER trg_ledger_entries_no_truncate BEFORE TRUNCATE ON %I '
                               'FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()',
                               'ledger_entries_' || to_char(m, 'YYYY_MM'));
            END LOOP;
        END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER trg_ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries_default "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()"
    )
    # The keys first, in one set-based statement (the guard then sees each entry as itself).
    op.execute(
        "INSERT INTO ledger_idempotency_keys (idempotency_key, entry_id, created_at, payment_id) "
        "SELECT idempotency_key, id, created_at, payment_id FROM ledger_entries"
    )
    _copy_checked("ledger_entries", "ledger_entries_partitioned")
    op.execute(
        "SELECT setval(pg_get_serial_sequence('ledger_entries_partitioned', 'id'), "
        "greatest((SELECT max(id) FROM ledger_entries), "
        "(SELECT last_value FROM ledger_entries_id_seq), 1))"
    )
    op.execute("DROP TABLE ledger_entries")
    op.execute("ALTER TABLE ledger_entries_partitioned RENAME TO ledger_entries")
    op.execute("ALTER SEQUENCE ledger_entries_partitioned_id_seq RENAME TO ledger_entries_id_seq")
    op.execute(PARENT_INDEXES_AND_FKS)


def downgrade() -> None:
    op.execute("LOCK TABLE ledger_entries IN EXCLUSIVE MODE")
    # Archived orders (and their rows) go back first: ledger rows point at them.
    op.execute(
        """
        DO $$
        DECLARE t text;
        BEGIN
            FOREACH t IN ARRAY ARRAY['orders', 'order_items', 'vendor_offers', 'stock_reservations',
                                     'audit_logs', 'decision_conflict_logs', 'outbound_messages'] LOOP
                IF to_regclass('archive.' || t) IS NOT NULL THEN
                    EXECUTE format('INSERT INTO public.%I SELECT * FROM archive.%I', t, t);
                END IF;
            END LOOP;
        END $$;
        """
    )
    op.execute(
        f"CREATE TABLE ledger_entries_plain (id bigint GENERATED BY DEFAULT AS IDENTITY, {COLUMN_DEFS}, {CHECKS})"
    )
    op.execute(
        "CREATE TEMP VIEW ledger_entries_everything AS "
        f"SELECT {COLUMNS} FROM ledger_entries UNION ALL SELECT {COLUMNS} FROM archive.ledger_entries"
    )
    _copy_checked("ledger_entries_everything", "ledger_entries_plain")
    op.execute(
        "SELECT setval(pg_get_serial_sequence('ledger_entries_plain', 'id'), "
        "greatest((SELECT max(id) FROM ledger_entries_plain), (SELECT last_value FROM ledger_entries_id_seq), 1))"
    )
    op.execute("DROP VIEW ledger_entries_everything")
    op.execute("DROP TABLE ledger_entries")  # the partitions go with it
    op.execute("DROP SCHEMA archive CASCADE")
    op.execute("ALTER TABLE ledger_entries_plain RENAME TO ledger_entries")
    op.execute("ALTER SEQUENCE ledger_entries_plain_id_seq RENAME TO ledger_entries_id_seq")
    op.execute("DROP TABLE ledger_checkpoints")
    op.execute("DROP TABLE ledger_idempotency_keys")
    op.execute(
        """
        ALTER TABLE ledger_entries ADD CONSTRAINT pk_ledger_entries PRIMARY KEY (id),
            ADD CONSTRAINT uq_ledger_entries_idempotency_key UNIQUE (idempotency_key);
        """
    )
    op.execute(
        PARENT_INDEXES_AND_FKS.split(";", 1)[1]
        .replace(
            "CREATE INDEX ix_ledger_entries_payment_id ON ledger_entries (payment_id)",
            "CREATE UNIQUE INDEX uq_ledger_entries_payment_id ON ledger_entries (payment_id)",
        )
        .replace(
            "CREATE TRIGGER trg_ledger_entries_key_guard AFTER INSERT ON ledger_entries\n"
            "    FOR EACH ROW EXECUTE FUNCTION ledger_entries_key_guard();\n",
            "",
        )
    )
    op.execute("DROP FUNCTION ledger_ensure_partition(date)")
    op.execute("DROP FUNCTION ledger_entries_key_guard()")
    op.execute("DROP FUNCTION thok_append_only()")
