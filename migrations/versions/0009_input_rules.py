"""Input rules enforced by PostgreSQL: one live party per WhatsApp number.

Each table already had a partial unique index on its live numbers, but nothing stopped a retailer
and a wholesaler from sharing one; the bot answers a number as the retailer first, so an admin who
gave a retailer a wholesaler's number locked the wholesaler out of every order.

Design: a claim table, `party_phones`, whose primary key is the number, kept by one trigger
function on both tables: a live row (deleted_at IS NULL) claims its number, a soft delete, a number
change or a DELETE gives it back. Why this rather than the alternatives:
- a trigger that looks into the other table would race (two transactions each see no holder and
  both commit) unless it took a lock per number; the primary key decides races the way every
  unique index does, and the loser gets an ordinary unique_violation at the statement;
- one `parties` table would be the cleaner model, but it would move every foreign key to
  retailers and wholesalers and every query that joins them;
- an exclusion constraint spans one table only.
The function is SECURITY DEFINER (owned by the migrating owner, fixed search_path): the runtime
role writes retailers and wholesalers but needs, and gets, no right on `party_phones` itself, so
the claims cannot be edited around the rule. A refused claim says which number and who holds it
(the message is for the admin: the dashboard shows it), with the constraint named for the metrics.

Existing data: the claims are backfilled from live rows; a number already held live by both a
retailer and a wholesaler stops the upgrade with those numbers listed, since only a person can
say which of the two it really belongs to.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIMS = """
CREATE TABLE party_phones (
    whatsapp_number varchar(20) NOT NULL,
    party_kind varchar(20) NOT NULL,
    party_id bigint NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_party_phones PRIMARY KEY (whatsapp_number),
    CONSTRAINT uq_party_phones_party_kind_party_id UNIQUE (party_kind, party_id),
    CONSTRAINT ck_party_phones_party_kind_known CHECK (party_kind IN ('retailer', 'wholesaler'))
)
"""

CONFLICTS = """
DO $$
DECLARE
    shared text;
BEGIN
    SELECT string_agg(r.whatsapp_number, ', ' ORDER BY r.whatsapp_number) INTO shared
    FROM retailers r JOIN wholesalers w ON w.whatsapp_number = r.whatsapp_number
    WHERE r.deleted_at IS NULL AND w.deleted_at IS NULL;
    IF shared IS NOT NULL THEN
        RAISE EXCEPTION 'these WhatsApp numbers belong to a live retailer and a live wholesaler: %', shared
            USING HINT = 'change or remove one of the two parties for each number, then upgrade again';
    END IF;
END
$$
"""

BACKFILL = """
INSERT INTO party_phones (whatsapp_number, party_kind, party_id)
SELECT whatsapp_number, 'retailer', id FROM retailers WHERE deleted_at IS NULL
UNION ALL
SELECT whatsapp_number, 'wholesaler', id FROM wholesalers WHERE deleted_at IS NULL
"""

CLAIM_FUNCTION = """
CREATE FUNCTION party_phone_claim() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    kind text := TG_ARGV[0];
    holder text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
        DELETE FROM public.party_phones
        WHERE whatsapp_number = OLD.whatsapp_number AND party_kind = kind AND party_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.deleted_at IS NULL THEN
        BEGIN
            INSERT INTO public.party_phones (whatsapp_number, party_kind, party_id)
            VALUES (NEW.whatsapp_number, kind, NEW.id);
        EXCEPTION WHEN unique_violation THEN
            SELECT p.party_kind INTO holder FROM public.party_phones p WHERE p.whatsapp_number = NEW.whatsapp_number;
            RAISE EXCEPTION '% already belongs to another %', NEW.whatsapp_number, coalesce(holder, 'party')
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'pk_party_phones',
                      TABLE = TG_TABLE_NAME, DETAIL = 'one WhatsApp number reaches one live party';
        END;
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGERS = """
CREATE TRIGGER retailers_phone_claim
    AFTER INSERT OR DELETE OR UPDATE OF whatsapp_number, deleted_at ON retailers
    FOR EACH ROW EXECUTE FUNCTION party_phone_claim('retailer');
CREATE TRIGGER wholesalers_phone_claim
    AFTER INSERT OR DELETE OR UPDATE OF whatsapp_number, deleted_at ON wholesalers
    FOR EACH ROW EXECUTE FUNCTION party_phone_claim('wholesaler');
"""


def upgrade() -> None:
    op.execute(CLAIMS)
    op.execute(CONFLICTS)
    op.execute(BACKFILL)
    op.execute(CLAIM_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION party_phone_claim() FROM PUBLIC")
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute("DROP TRIGGER wholesalers_phone_claim ON wholesalers")
    op.execute("DROP TRIGGER retailers_phone_claim ON retailers")
    op.execute("DROP FUNCTION party_phone_claim()")
    op.execute("DROP TABLE party_phones")
