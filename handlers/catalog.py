"""The parser's catalog for this process, rebuilt only when products change: the dispatcher reads
every message with it, and the order handler re-reads an unclear word with it (so it lives below
both, instead of the order handler importing the dispatcher that imports it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from domain.catalog import catalog_entries, catalog_version
from parsing.parser import Catalog

_catalog: tuple[Any, Catalog] | None = None


def catalog_snapshot(session: Session) -> Catalog:
    """The parser's catalog, rebuilt only when products change (one cheap query per message)."""
    global _catalog
    version = catalog_version(session)
    if _catalog is None or _catalog[0] != version:
        _catalog = (version, Catalog.from_tuples(catalog_entries(session)))
    return _catalog[1]
