"""What every handler gets: the unit of work's session, who wrote, what they wrote, the settings and
the language to answer in; and the one way to build a reply from the message catalog."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from domain.catalog import CatalogProduct
from handlers import Reply, Sender
from handlers.catalog import CatalogSnapshot, current_catalog
from handlers.messages import money_for, numerals, t
from parsing.parser import Catalog, decimal_str
from thok.config import Settings


@dataclass(frozen=True)
class Context:
    session: Session
    sender: Sender
    settings: Settings
    lang: str  # "en" | "ne"
    message: str = ""  # the text as written: a YES and a 👍 are one intent but not one answer
    catalog: CatalogSnapshot | None = None  # the one the message was read with (None: read it now)

    def products(self, skus: Iterable[str]) -> dict[str, CatalogProduct]:
        """The live products among these skus, from the message's catalog (no query)."""
        return self.snapshot().by_sku(skus)

    def parser_catalog(self) -> Catalog:
        return self.snapshot().parser

    def snapshot(self) -> CatalogSnapshot:
        return self.catalog or current_catalog(self.session)

    @property
    def retailer_id(self) -> int | None:
        return self.sender.id if self.sender.kind == "retailer" else None

    @property
    def wholesaler_id(self) -> int | None:
        return self.sender.id if self.sender.kind == "wholesaler" else None

    def text(self, key: str, **kw: Any) -> str:
        return t(key, self.lang, **{k: "" if v is None else str(v) for k, v in kw.items()})

    def reply(self, key: str, order_id: int | None = None, **kw: Any) -> Reply:
        return self.compose([self.text(key, **kw)], order_id=order_id)

    def compose(self, parts: list[str], order_id: int | None = None) -> Reply:
        """One message of several catalog texts (a note, then the question it leads to)."""
        return Reply(
            to=self.sender.phone,
            body="\n\n".join(p for p in parts if p),
            order_id=order_id,
            retailer_id=self.retailer_id,
            wholesaler_id=self.wholesaler_id,
        )

    def unit(self, code: str) -> str:
        return self.text(f"unit_{code}")

    def qty(self, value: Decimal | int) -> str:
        return numerals(decimal_str(Decimal(value)), self.lang)

    def money(self, value: Decimal) -> str:
        return money_for(value, self.lang)
