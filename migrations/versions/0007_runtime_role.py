"""A runtime role that cannot alter what protects the ledger.

Web and worker talk to the internet; until now they ran as the owner of every table, so a bug or
an attacker in them could `DISABLE TRIGGER`, replace `ledger_entries_append_only()`, `DETACH
PARTITION` and delete, or `DROP TABLE ledger_entries`. PostgreSQL lets only a table's owner do
those, so web and worker now run as a separate login role that owns nothing and gets, from `thok
db grant-runtime ROLE` (db/roles.py, rerun after every upgrade), DML on the live tables, SELECT on
the ledger, and EXECUTE on the khata's functions. What it still needs the owner's rights for goes
through functions that run as their owner (SECURITY DEFINER):

- `ledger_post()` (0004, reworked by 0006): the only way an entry gets into the ledger, and the
  only writer of `outstanding` on the credit tables. The runtime role has no INSERT on
  `ledger_entries` and no UPDATE of `outstanding`, so an entry cannot bypass the limit, payment and
  idempotency checks, and a balance cannot drift from its entries.
- `ledger_ensure_partition()` (0003): the worker's hourly job creates next months' partitions;
  CREATE TABLE ... PARTITION OF needs the parent's owner. The new partitions are the owner's too.
- `ledger_default_months()` (new): which months sit in the DEFAULT partition, for that job and
  `thok db verify`; the runtime role cannot read a partition directly, only through the parent.

A SECURITY DEFINER function is only as safe as the names it resolves: each gets a fixed
`search_path` (public, then pg_temp last, so a temporary object of the caller can never stand in
for a table; pg_catalog is searched first), EXECUTE is taken from PUBLIC and given to the runtime role alone, and CREATE
on schema public is taken from PUBLIC (already so on PostgreSQL 15+). Properties are changed with
ALTER FUNCTION, by name over every signature, so 0006's CREATE OR REPLACE of `ledger_post()` and
this migration do not fight (CREATE OR REPLACE would reset them: `thok db verify` reports that).

`ledger_newest()` stays SECURITY INVOKER: it only reads what the runtime role may read anyway; it
gets the fixed search_path too.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# pg_catalog is searched first when not named; naming it first would make it where CREATE TABLE goes.
SEARCH_PATH = "public, pg_temp"
# Functions that run with the owner's rights; db/roles.py and db/verify.py use the same list.
DEFINER_FUNCTIONS = ("ledger_post", "ledger_ensure_partition", "ledger_default_months")

DEFAULT_MONTHS = f"""
CREATE FUNCTION ledger_default_months() RETURNS TABLE (month date, entries bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {SEARCH_PATH} AS $$
    SELECT date_trunc('month', created_at AT TIME ZONE 'Asia/Kathmandu')::date, count(*)
    FROM public.ledger_entries_default GROUP BY 1 ORDER BY 1
$$;
"""


def _alter_all(name: str, clause: str) -> None:
    """ALTER FUNCTION for every signature of `name` in schema public (0006 may change the arguments)."""
    op.execute(
        f"""
        DO $$
        DECLARE f regprocedure;
        BEGIN
            FOR f IN SELECT p.oid FROM pg_proc p
                     WHERE p.pronamespace = 'public'::regnamespace AND p.proname = '{name}' LOOP
                EXECUTE format('ALTER FUNCTION %s {clause}', f);
            END LOOP;
        END $$;
        """
    )


def _revoke_all(name: str, verb: str) -> None:
    op.execute(
        f"""
        DO $$
        DECLARE f regprocedure;
        BEGIN
            FOR f IN SELECT p.oid FROM pg_proc p
                     WHERE p.pronamespace = 'public'::regnamespace AND p.proname = '{name}' LOOP
                EXECUTE format('{verb} EXECUTE ON FUNCTION %s {"FROM" if verb == "REVOKE" else "TO"} PUBLIC', f);
            END LOOP;
        END $$;
        """
    )


def upgrade() -> None:
    op.execute(DEFAULT_MONTHS)
    for name in DEFINER_FUNCTIONS:
        _alter_all(name, f"SECURITY DEFINER SET search_path = {SEARCH_PATH}")
        _revoke_all(name, "REVOKE")
    _alter_all("ledger_newest", f"SET search_path = {SEARCH_PATH}")
    # Only the schema's owner may (on PostgreSQL 15+ the database owner, and PUBLIC has no CREATE
    # there anyway); elsewhere `thok db verify` reports a runtime role that may still CREATE.
    op.execute(
        """
        DO $$
        BEGIN
            IF pg_has_role(current_user, (SELECT nspowner FROM pg_namespace WHERE nspname = 'public'), 'MEMBER') THEN
                REVOKE CREATE ON SCHEMA public FROM PUBLIC;
            END IF;
        END $$;
        """
    )


def downgrade() -> None:
    # CREATE on public is left as it is: PostgreSQL 15+ does not grant it to PUBLIC either.
    _alter_all("ledger_newest", "RESET search_path")
    for name in ("ledger_post", "ledger_ensure_partition"):
        _revoke_all(name, "GRANT")
        _alter_all(name, "SECURITY INVOKER RESET search_path")
    op.execute("DROP FUNCTION ledger_default_months()")
