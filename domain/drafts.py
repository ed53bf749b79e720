"""A parsed order waiting for the retailer's YES. One per retailer: a new order replaces it; it
expires after DRAFT_TTL_SECONDS so an old YES cannot place a forgotten order."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import OrderDraft


@dataclass(frozen=True)
class DraftLine:
    product_id: int
    sku: str
    name: str
    quantity: Decimal  # in the product's unit
    unit: str
    unit_price: Decimal  # the best catalog price now: an estimate, offers decide
    raw_text: str = ""

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["quantity"], d["unit_price"] = str(self.quantity), str(self.unit_price)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DraftLine:
        return cls(**{**d, "quantity": Decimal(d["quantity"]), "unit_price": Decimal(d["unit_price"])})


def save_draft(
    session: Session, retailer_id: int, lines: list[DraftLine], ttl_seconds: int, now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    values = {
        "retailer_id": retailer_id,
        "items": [line.to_json() for line in lines],
        "estimated_total": sum((line.amount for line in lines), Decimal(0)),
        "expires_at": now + timedelta(seconds=ttl_seconds),
    }
    stmt = insert(OrderDraft).values(values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[OrderDraft.retailer_id],
            set_={k: stmt.excluded[k] for k in ("items", "estimated_total", "expires_at")} | {"updated_at": now},
        )
    )


def take_draft(session: Session, retailer_id: int, now: datetime | None = None) -> list[DraftLine] | None:
    """The retailer's live draft, removed (a YES uses it once); None if there is none or it expired."""
    now = now or datetime.now(UTC)
    draft = session.scalars(select(OrderDraft).where(OrderDraft.retailer_id == retailer_id).with_for_update()).first()
    if draft is None:
        return None
    session.delete(draft)
    session.flush()
    if draft.expires_at <= now:
        return None
    return [DraftLine.from_json(d) for d in draft.items]


def discard_draft(session: Session, retailer_id: int) -> bool:
    return bool(session.execute(delete(OrderDraft).where(OrderDraft.retailer_id == retailer_id)).rowcount)  # type: ignore[attr-defined]
