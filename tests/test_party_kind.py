"""PartyKind: the differences between retailers and wholesalers, in one place."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from db.models import Retailer, Wholesaler
from domain.errors import NotFound
from domain.parties import PartyKind, register_retailer, register_wholesaler, soft_delete


def test_each_kind_knows_its_table_url_and_name_column(session: Session) -> None:
    assert PartyKind.RETAILER.model is Retailer and PartyKind.WHOLESALER.model is Wholesaler
    assert PartyKind.from_plural("wholesalers") is PartyKind.WHOLESALER
    assert PartyKind.from_plural("admins") is None
    assert PartyKind.RETAILER == "retailer" and f"{PartyKind.WHOLESALER}" == "wholesaler"  # stored as its value
    shop = register_retailer(session, name="Anita", phone="9846000901", shop_name="Anita Kirana")
    plain = register_wholesaler(session, name="Gita", phone="9855000901")
    session.flush()
    assert PartyKind.of(shop) is PartyKind.RETAILER and PartyKind.of(plain) is PartyKind.WHOLESALER
    assert PartyKind.shown_name(shop) == "Anita Kirana"
    assert PartyKind.shown_name(plain) == "Gita"  # no business name: the person's


def test_get_finds_removed_parties_and_refuses_unknown_ids(session: Session) -> None:
    shop = register_retailer(session, name="Ramesh", phone="9846000902")
    session.flush()
    soft_delete(shop)
    session.flush()
    session.expunge_all()  # from the database, through the soft-delete hook
    assert PartyKind.RETAILER.get(session, shop.id).name == "Ramesh"
    with pytest.raises(NotFound, match="wholesaler 987654321 does not exist"):
        PartyKind.WHOLESALER.get(session, 987654321)
