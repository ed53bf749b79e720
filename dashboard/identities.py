"""The ids WhatsApp gives people (issue 18): a party's page shows its wa_id and business-scoped user
id (BSUID), and an admin links an id seen in messages that reached nobody (a username user with no
number) to the party it belongs to, or unlinks one. Routes on the dashboard blueprint, so signed-in,
CSRF-checked, and refused to viewers like every other change; each link and unlink is audited."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue

from dashboard.web import ActionFailed, bp, flash_failure, form_id, perform_and_flash, read
from db.models import PartyIdentity
from domain import identities

KINDS = {"retailers": "retailer", "wholesalers": "wholesaler"}


@bp.app_context_processor
def _identity_lookups() -> dict[str, Any]:
    """For the party pages' identities card (dashboard/_identities.html), read when it renders."""

    def party_identities(kind: str, party_id: int) -> list[PartyIdentity]:
        return read(identities.identities_of, kind, party_id)

    def unlinked_identities() -> list[PartyIdentity]:
        return read(identities.unlinked)

    return {"party_identities": party_identities, "unlinked_identities": unlinked_identities}


@bp.post("/<any(retailers, wholesalers):kinds>/<int:party_id>/identities/link")
def link_identity(kinds: str, party_id: int) -> ResponseReturnValue:
    kind = KINDS[kinds]
    try:
        identity_id = form_id("identity_id")
    except ActionFailed as exc:
        identity_id = None
        flash_failure(exc)
    if identity_id is None:
        flash("Choose an id to link.", "error")
    else:
        perform_and_flash("Linked: their messages now reach this party.", identities.link, identity_id, kind, party_id)
    return redirect(url_for(f"dashboard.{kind}", party_id=party_id), code=303)


@bp.post("/<any(retailers, wholesalers):kinds>/<int:party_id>/identities/<int:identity_id>/unlink")
def unlink_identity(kinds: str, party_id: int, identity_id: int) -> ResponseReturnValue:
    kind = KINDS[kinds]
    perform_and_flash("Unlinked.", identities.unlink, identity_id)
    return redirect(url_for(f"dashboard.{kind}", party_id=party_id), code=303)

