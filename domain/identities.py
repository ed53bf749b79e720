"""Who wrote, when a provider says it by an id rather than (only) a phone number (issue 18).

WhatsApp's Cloud API names a sender by `wa_id` (their number's digits) and, since usernames, by a
business-scoped user id (BSUID) that may come without any number. Each id seen is kept once
(`party_identities`, by provider, kind and value); it is linked to a party when the message came
with that party's number, or by an admin (audited). `party_by_identity` is how a message whose
sender has no known number still reaches the party it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from db.models import PartyIdentity, Retailer, Wholesaler
from domain.audit import AdminActor, record_admin_action
from domain.errors import InvalidInput, NotFound

WA_ID, BSUID = "wa_id", "bsuid"


@dataclass(frozen=True)
class Seen:
    """The ids one message came with."""

    provider: str
    wa_id: str | None
    bsuid: str | None
    phone: str | None  # E.164, when the message came with a number
    username: str | None = None
    profile_name: str | None = None


def _live(model: type[Retailer] | type[Wholesaler]):  # type: ignore[no-untyped-def]
    return (model.is_active.is_(True), model.deleted_at.is_(None))


# One statement, one round trip (it runs on the webhook's path for every Meta message): the ids,
# the party whose live number the message came with (a retailer first, as find_party), and an
# upsert that links an id only while it is unlinked (a number that changed hands is for an admin,
# not for a message, to decide) and touches a linked row only when something new came with it, so
# the steady state of a known sender writes nothing.
_NOTE_SEEN = text(
    """
    WITH party AS (
        SELECT * FROM (
            SELECT r.id AS retailer_id, NULL::bigint AS wholesaler_id
              FROM retailers r
             WHERE r.whatsapp_number = :phone AND r.is_active AND r.deleted_at IS NULL
            UNION ALL
            SELECT NULL, w.id
              FROM wholesalers w
             WHERE w.whatsapp_number = :phone AND w.is_active AND w.deleted_at IS NULL
        ) found
        ORDER BY retailer_id IS NULL
        LIMIT 1
    )
    INSERT INTO party_identities AS pi
           (provider, kind, value, phone, username, profile_name, retailer_id, wholesaler_id, linked_at)
    SELECT :provider, seen.kind, seen.value, :phone, :username, :profile_name,
           party.retailer_id, party.wholesaler_id,
           CASE WHEN party.retailer_id IS NULL AND party.wholesaler_id IS NULL THEN NULL ELSE now() END
      FROM (VALUES ('wa_id', CAST(:wa_id AS varchar)), ('bsuid', CAST(:bsuid AS varchar))) AS seen (kind, value)
      LEFT JOIN party ON true
     WHERE seen.value IS NOT NULL
    ON CONFLICT (provider, kind, value) DO UPDATE
       SET last_seen_at = now(),
           updated_at = now(),
           phone = coalesce(excluded.phone, pi.phone),
           username = coalesce(excluded.username, pi.username),
           profile_name = coalesce(excluded.profile_name, pi.profile_name),
           retailer_id = CASE WHEN pi.retailer_id IS NULL AND pi.wholesaler_id IS NULL
                              THEN excluded.retailer_id ELSE pi.retailer_id END,
           wholesaler_id = CASE WHEN pi.retailer_id IS NULL AND pi.wholesaler_id IS NULL
                                THEN excluded.wholesaler_id ELSE pi.wholesaler_id END,
           linked_at = CASE WHEN pi.retailer_id IS NULL AND pi.wholesaler_id IS NULL
                            THEN excluded.linked_at ELSE pi.linked_at END
     WHERE (pi.retailer_id IS NULL AND pi.wholesaler_id IS NULL)
        OR excluded.username IS DISTINCT FROM pi.username AND excluded.username IS NOT NULL
        OR excluded.phone IS DISTINCT FROM pi.phone AND excluded.phone IS NOT NULL
    """
)


def note_seen(conn: Session | Connection, seen: Seen) -> None:
    """Keep the message's ids (one row each) and, when the message came with a party's number, link
    those not linked yet to that party. Unlinked rows are refreshed each time (the dashboard lists
    them by when they were last seen)."""
    if not (seen.wa_id or seen.bsuid):
        return
    conn.execute(
        _NOTE_SEEN,
        {
            "provider": seen.provider,
            "wa_id": seen.wa_id,
            "bsuid": seen.bsuid,
            "phone": seen.phone,
            "username": seen.username,
            "profile_name": seen.profile_name,
        },
    )


def party_by_identity(session: Session, sender: str) -> Retailer | Wholesaler | None:
    """The live, active party a provider id is linked to: `sender` is what the message's from_number
    holds, a BSUID as it is or a number whose digits are a linked wa_id."""
    found = session.execute(
        select(PartyIdentity.retailer_id, PartyIdentity.wholesaler_id)
        .where(
            PartyIdentity.value.in_({sender, sender.lstrip("+")}),
            (PartyIdentity.retailer_id.is_not(None)) | (PartyIdentity.wholesaler_id.is_not(None)),
        )
        .order_by(PartyIdentity.linked_at.desc().nulls_last(), PartyIdentity.id)
    ).all()
    for retailer_id, wholesaler_id in found:
        if retailer_id is not None:
            party: Retailer | Wholesaler | None = session.scalars(
                select(Retailer).where(Retailer.id == retailer_id, *_live(Retailer))
            ).first()
        else:
            party = session.scalars(
                select(Wholesaler).where(Wholesaler.id == wholesaler_id, *_live(Wholesaler))
            ).first()
        if party is not None:
            return party
    return None


def identities_of(session: Session, kind: str, party_id: int) -> list[PartyIdentity]:
    column = PartyIdentity.retailer_id if kind == "retailer" else PartyIdentity.wholesaler_id
    return list(session.scalars(select(PartyIdentity).where(column == party_id).order_by(PartyIdentity.id)))


def unlinked(session: Session, limit: int = 100) -> list[PartyIdentity]:
    """Ids seen in messages that reached nobody, most recent first: what an admin may link."""
    return list(
        session.scalars(
            select(PartyIdentity)
            .where(PartyIdentity.retailer_id.is_(None), PartyIdentity.wholesaler_id.is_(None))
            .order_by(PartyIdentity.last_seen_at.desc(), PartyIdentity.id.desc())
            .limit(limit)
        )
    )


def _snapshot(row: PartyIdentity) -> dict[str, object]:
    return {
        "provider": row.provider,
        "kind": row.kind,
        "value": row.value,
        "retailer_id": row.retailer_id,
        "wholesaler_id": row.wholesaler_id,
    }


def link(session: Session, actor: AdminActor, identity_id: int, kind: str, party_id: int) -> PartyIdentity:
    """An admin says whose id this is; audited. Only an unlinked id: moving one is unlink + link."""
    row = session.scalars(select(PartyIdentity).where(PartyIdentity.id == identity_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"identity #{identity_id} not found")
    if row.retailer_id is not None or row.wholesaler_id is not None:
        raise InvalidInput(f"{row.kind} {row.value} is linked already; unlink it first")
    model: type[Retailer] | type[Wholesaler] = Retailer if kind == "retailer" else Wholesaler
    if kind not in ("retailer", "wholesaler"):
        raise InvalidInput(f"unknown party kind {kind!r}")
    party = session.scalars(select(model).where(model.id == party_id, model.deleted_at.is_(None))).first()
    if party is None:
        raise NotFound(f"{kind} #{party_id} not found")
    before = _snapshot(row)
    if kind == "retailer":
        row.retailer_id = party_id
    else:
        row.wholesaler_id = party_id
    row.linked_at = datetime.now(UTC)
    session.flush()
    record_admin_action(session, actor, "identity.link", "party_identity", row.id, before=before, after=_snapshot(row))
    return row


def unlink(session: Session, actor: AdminActor, identity_id: int) -> PartyIdentity:
    row = session.scalars(select(PartyIdentity).where(PartyIdentity.id == identity_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"identity #{identity_id} not found")
    before = _snapshot(row)
    session.execute(
        update(PartyIdentity)
        .where(PartyIdentity.id == identity_id)
        .values(retailer_id=None, wholesaler_id=None, linked_at=None)
    )
    session.refresh(row)
    record_admin_action(
        session, actor, "identity.unlink", "party_identity", row.id, before=before, after=_snapshot(row)
    )
    return row
