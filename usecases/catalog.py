"""Importing a wholesaler's price list (sku,price,stock): all or nothing, audited.

From the dashboard's upload and `thok import-prices`. A wholesaler changes single lines over
WhatsApp (PRICE / STOCK), not whole files, so no WhatsApp handler calls this. Nobody is messaged:
the new prices show in the next estimate and the next offer invitation.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from db.models import ActorType
from domain import catalog
from domain.errors import InvalidInput
from usecases import rows
from usecases.actor import Actor, audit


def import_prices(
    session: Session,
    actor: Actor,
    wholesaler_id: int,
    data: bytes,
    filename: str,
    progress: catalog.Progress | None = None,
) -> catalog.ImportResult:
    """Set one wholesaler's price and stock per sku; a `CsvImportError` carries every bad line and
    leaves nothing behind (the caller's unit of work rolls back)."""
    if actor.kind not in (ActorType.ADMIN, ActorType.SYSTEM) and not actor.is_wholesaler(wholesaler_id):
        raise InvalidInput("only Thok or the wholesaler itself sets its prices")
    wholesaler = rows.wholesaler(session, wholesaler_id)
    if wholesaler.deleted_at is not None:
        raise InvalidInput("this wholesaler was removed; restore them before importing prices")
    if not data.strip():
        raise InvalidInput("the file is empty: upload a CSV with the header sku,price,stock")
    source = filename or "prices.csv"
    result = catalog.import_prices(session, wholesaler.whatsapp_number, data, source=source, progress=progress)
    audit(
        session,
        actor,
        "catalog.import_prices",
        "wholesaler",
        wholesaler_id,
        after={"file": filename, "rows": result.rows, "inserted": result.inserted, "updated": result.updated},
    )
    return result
