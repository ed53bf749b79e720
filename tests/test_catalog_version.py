"""The parser's catalog cache key (`domain.catalog.catalog_version`) moves with every committed write
to products, whatever its transaction's start time and whatever columns it set."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from domain.catalog import catalog_version
from thok.seed import seed_demo


def version(db: Any) -> Any:
    with db.session() as session:
        return catalog_version(session)


def test_an_edit_committed_after_a_later_stamped_one_moves_the_version(fresh_database: Any) -> None:
    with fresh_database.unit_of_work() as uow:
        seed_demo(uow.session)
        uow.commit()
    early = fresh_database.engine.connect()
    try:
        early_tx = early.begin()
        early.execute(text("SELECT now()"))  # this transaction's now() is fixed from here
        with fresh_database.engine.begin() as later:  # starts and commits after it: a later stamp
            later.execute(text("UPDATE products SET name_ne = name_ne || '' , updated_at = now() WHERE id = 1"))
        seen = version(fresh_database)
        # The earlier transaction edits another product (a unit) and commits: its stamp is older.
        early.execute(text("UPDATE products SET unit = unit, updated_at = now() WHERE id = 2"))
        early_tx.commit()
    finally:
        early.close()
    assert version(fresh_database) != seen


def test_a_write_that_leaves_updated_at_alone_moves_the_version(fresh_database: Any) -> None:
    with fresh_database.unit_of_work() as uow:
        seed_demo(uow.session)
        uow.commit()
    seen = version(fresh_database)
    assert version(fresh_database) == seen  # nothing written: the same key, the cache is kept
    with fresh_database.engine.begin() as conn:
        conn.execute(text("UPDATE products SET aliases = aliases WHERE id = 3"))
    assert version(fresh_database) != seen
