"""The parties a use case acts on, by id, or a NotFound the entry point turns into its 404 / reply.

Removed (soft-deleted) parties are found too: a removed shop may still owe, and Thok still corrects
its khata; a use case that must not act on one says so itself."""

from __future__ import annotations

from sqlalchemy.orm import Session

from db.models import Retailer, Wholesaler
from domain.errors import NotFound

_ALL = {"include_deleted": True}


def retailer(session: Session, retailer_id: int) -> Retailer:
    found = session.get(Retailer, retailer_id, execution_options=_ALL)
    if found is None:
        raise NotFound(f"retailer {retailer_id} does not exist")
    return found


def wholesaler(session: Session, wholesaler_id: int) -> Wholesaler:
    found = session.get(Wholesaler, wholesaler_id, execution_options=_ALL)
    if found is None:
        raise NotFound(f"wholesaler {wholesaler_id} does not exist")
    return found
