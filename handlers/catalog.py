"""The parser's catalog for this process, rebuilt only when products change: the dispatcher reads
every message with it, and the order handler re-reads an unclear word with it (so it lives below
both, instead of the order handler importing the dispatcher that imports it). The live products'
ids, units and pack sizes are kept with it, so an order message makes its draft lines without
reading the products again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from domain.catalog import CatalogProduct, catalog_products, catalog_version
from parsing.parser import Catalog


@dataclass(frozen=True)
class CatalogSnapshot:
    version: Any
    parser: Catalog
    products: dict[str, CatalogProduct]  # live products by sku

    def by_sku(self, skus: Iterable[str]) -> dict[str, CatalogProduct]:
        """Like domain.catalog.products_by_sku: the live ones among `skus`."""
        return {sku: self.products[sku] for sku in skus if sku in self.products}


_current: CatalogSnapshot | None = None


def current_catalog(session: Session) -> CatalogSnapshot:
    """The catalog as of now: its version is read on every call (one cheap query), so a product
    added, edited or deleted is seen by the very next message, whichever process changed it."""
    global _current
    version = catalog_version(session)
    if _current is None or _current.version != version:
        products = catalog_products(session)
        parser = Catalog.from_tuples((p.sku, p.name, p.name_ne, p.aliases, p.unit) for p in products)
        _current = CatalogSnapshot(version, parser, {p.sku: p for p in products})
    return _current


def catalog_snapshot(session: Session) -> Catalog:
    """The parser's catalog, rebuilt only when products change (one cheap query per message)."""
    return current_catalog(session).parser
