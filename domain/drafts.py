"""A parsed order waiting for the retailer: the clear lines, the questions still open about the
unclear words, and what we last asked. One per retailer.

- A new order message while a draft is live adds to it (the caller decides to replace instead).
- A soft "👍"/"ok" confirms only when the draft's summary is the last thing we asked, and recently:
  after any other exchange it would be a guess, and a guess must not place an order.
- It expires after DRAFT_TTL_SECONDS; an expired draft is reported as such, not as "no order".

The rows' `items` JSON holds entries of two kinds, told apart by "type": "line" (a product the
retailer wants) and "question" (a word that names several products, with its quantity), plus one
"state" entry recording what we last asked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import OrderDraft

# What the retailer's next message answers: the summary ("confirm"), a numbered choice ("choice"),
# or nothing in particular (another exchange came in between).
ASKED_CONFIRM, ASKED_CHOICE, ASKED_NOTHING = "confirm", "choice", ""
SOFT_CONFIRM_SECONDS = 600  # a 👍 later than this after the summary is not taken as a YES


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
        return {"type": "line", **d}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DraftLine:
        d = {k: v for k, v in d.items() if k != "type"}
        return cls(**{**d, "quantity": Decimal(d["quantity"]), "unit_price": Decimal(d["unit_price"])})


@dataclass(frozen=True)
class Question:
    """A word that names several products ("chamal"): the retailer picks one by number."""

    text: str
    candidates: tuple[str, ...]  # SKUs, in the order they are offered
    quantity: Decimal
    unit: str | None  # as written ("bora"); None: the chosen product's own unit

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "question",
            "text": self.text,
            "candidates": list(self.candidates),
            "quantity": str(self.quantity),
            "unit": self.unit,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Question:
        return cls(d["text"], tuple(d["candidates"]), Decimal(d["quantity"]), d.get("unit"))


@dataclass
class Draft:
    lines: list[DraftLine] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    asked: str = ASKED_NOTHING
    asked_at: datetime | None = None
    expires_at: datetime | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def add(self, line: DraftLine) -> None:
        """One line per product: "2 bora basmati" then "1 bora basmati" is 3 bora."""
        for n, old in enumerate(self.lines):
            if old.product_id == line.product_id:
                raw = f"{old.raw_text} {line.raw_text}".strip()
                self.lines[n] = DraftLine(
                    old.product_id, old.sku, old.name, old.quantity + line.quantity, old.unit, line.unit_price, raw
                )
                return
        self.lines.append(line)

    def soft_confirmable(self, now: datetime) -> bool:
        """May a 👍 / "ok" / "huncha" place it? Only as the answer to the summary we just sent."""
        if self.asked != ASKED_CONFIRM or self.questions or self.asked_at is None:
            return False
        return now - self.asked_at <= timedelta(seconds=SOFT_CONFIRM_SECONDS)


# Built once (the draft is read and written on every retailer's order message and YES): Core
# statements over the table, no ORM entity to build and track for a row that is only read as JSON.
_DRAFTS = cast(Table, OrderDraft.__table__)
_LOAD = select(_DRAFTS.c["items"], _DRAFTS.c.expires_at).where(_DRAFTS.c.retailer_id == bindparam("retailer_id"))
_LOAD_LOCKED = _LOAD.with_for_update()
_UPSERT = insert(_DRAFTS).values(
    retailer_id=bindparam("retailer_id"),
    items=bindparam("items", type_=_DRAFTS.c["items"].type),
    estimated_total=bindparam("estimated_total", type_=_DRAFTS.c.estimated_total.type),
    expires_at=bindparam("expires_at", type_=_DRAFTS.c.expires_at.type),
)
_SAVE = _UPSERT.on_conflict_do_update(
    index_elements=[_DRAFTS.c.retailer_id],
    set_={
        **{k: _UPSERT.excluded[k] for k in ("items", "estimated_total", "expires_at")},
        "updated_at": bindparam("now", type_=_DRAFTS.c.updated_at.type),
    },
)
# The "state" entries dropped and a blank one appended, in one UPDATE (no read first).
_FORGET_QUESTION = text(
    """
    UPDATE order_drafts SET
        items = coalesce(
            (SELECT jsonb_agg(e ORDER BY n) FROM jsonb_array_elements(items) WITH ORDINALITY AS x(e, n)
             WHERE e->>'type' IS DISTINCT FROM 'state'),
            '[]'::jsonb
        ) || '[{"type": "state", "asked": "", "at": null}]'::jsonb,
        updated_at = now()
    WHERE retailer_id = :retailer_id
    """
)
_DISCARD = delete(_DRAFTS).where(_DRAFTS.c.retailer_id == bindparam("retailer_id"))


def load_draft(session: Session, retailer_id: int, *, lock: bool = False) -> Draft | None:
    """The retailer's draft, expired or not (the caller tells the retailer which); None if none."""
    row = session.connection().execute(_LOAD_LOCKED if lock else _LOAD, {"retailer_id": retailer_id}).first()
    if row is None:
        return None
    items, expires_at = row
    draft = Draft(expires_at=expires_at)
    for entry in items:
        kind = entry.get("type", "line")
        if kind == "line":
            draft.lines.append(DraftLine.from_json(entry))
        elif kind == "question":
            draft.questions.append(Question.from_json(entry))
        elif kind == "state":
            draft.asked = entry.get("asked", ASKED_NOTHING)
            draft.asked_at = datetime.fromisoformat(entry["at"]) if entry.get("at") else None
    return draft


def save_draft(session: Session, retailer_id: int, draft: Draft, ttl_seconds: int, now: datetime | None = None) -> None:
    """Store the draft as it now stands; every save is a new exchange, so the clock restarts."""
    now = now or datetime.now(UTC)
    draft.expires_at = now + timedelta(seconds=ttl_seconds)
    state = {"type": "state", "asked": draft.asked, "at": draft.asked_at.isoformat() if draft.asked_at else None}
    session.connection().execute(
        _SAVE,
        {
            "retailer_id": retailer_id,
            "items": [line.to_json() for line in draft.lines] + [q.to_json() for q in draft.questions] + [state],
            "estimated_total": draft.total,
            "expires_at": draft.expires_at,
            "now": now,
        },
    )


def mark_asked(draft: Draft, asked: str, now: datetime | None = None) -> None:
    draft.asked = asked
    draft.asked_at = now or datetime.now(UTC)


def forget_question(session: Session, retailer_id: int) -> None:
    """Another exchange came between the draft's question and the next message: a later 👍 is not
    its answer. The draft itself stays (YES still places it)."""
    session.connection().execute(_FORGET_QUESTION, {"retailer_id": retailer_id})


def discard_draft(session: Session, retailer_id: int) -> bool:
    return bool(session.connection().execute(_DISCARD, {"retailer_id": retailer_id}).rowcount)
