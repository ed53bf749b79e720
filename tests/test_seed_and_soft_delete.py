"""The demo seed is realistic and idempotent; soft delete hides rows from ordinary queries."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Admin, CreditAccount, Product, Retailer, Wholesaler, WholesalerProduct
from domain.parties import check_password, register_retailer, soft_delete
from thok.seed import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, is_empty, seed_demo


def counts(session: Session) -> tuple[int, ...]:
    return tuple(
        int(session.scalar(select(func.count()).select_from(m)) or 0)
        for m in (Product, Wholesaler, WholesalerProduct, Retailer, CreditAccount, Admin)
    )


def test_demo_seed_builds_a_realistic_market(session: Session) -> None:
    assert is_empty(session)
    seed_demo(session)
    products, wholesalers, prices, retailers, accounts, admins = counts(session)
    assert products >= 30 and wholesalers >= 4 and retailers >= 1 and admins == 1
    assert accounts == retailers
    districts = set(session.scalars(select(Wholesaler.district)))
    assert len(districts) >= 4
    units = set(session.scalars(select(Product.unit)))
    assert {
        "bora",
        "kg",
        "litre",
        "carton",
        "packet",
        "piece",
        "dozen",
        "tray",
        "crate",
    } <= units
    assert all(session.scalars(select(Product.name_ne)))  # every product has its Devanagari name
    # Every product is sold by at least two wholesalers, so offers can compete.
    per_product = session.execute(
        select(WholesalerProduct.product_id, func.count()).group_by(WholesalerProduct.product_id)
    ).all()
    assert len(per_product) == products and min(n for _, n in per_product) >= 2
    assert all(limit > 0 for limit in session.scalars(select(CreditAccount.credit_limit)))
    admin = session.scalars(select(Admin).where(Admin.email == DEMO_ADMIN_EMAIL)).one()
    assert check_password(admin.password_hash, DEMO_ADMIN_PASSWORD)
    assert not check_password(admin.password_hash, "wrong password")


def test_demo_seed_is_idempotent(session: Session) -> None:
    seed_demo(session)
    first = counts(session)
    price = session.scalars(select(WholesalerProduct).limit(1)).one()
    price.stock = Decimal("3")  # a change made after seeding survives a second seed
    session.flush()
    second = seed_demo(session)
    assert counts(session) == first
    assert (second.products, second.wholesalers, second.retailers, second.price_rows) == (0, 0, 0, 0)
    session.refresh(price)
    assert price.stock == Decimal("3")


def test_soft_deleted_rows_are_hidden_unless_asked_for(session: Session) -> None:
    kept = register_retailer(session, name="Kept", phone="9841000201")
    gone = register_retailer(session, name="Gone", phone="9841000202")
    soft_delete(gone)
    session.flush()
    session.expunge_all()
    live = set(session.scalars(select(Retailer.name)))
    assert live == {"Kept"}
    assert session.get(Retailer, gone.id) is None
    assert session.get(Retailer, kept.id) is not None
    everyone = set(session.scalars(select(Retailer.name).execution_options(include_deleted=True)))
    assert everyone == {"Kept", "Gone"}
    # The number is free again for a new live registration.
    again = register_retailer(session, name="Back", phone="9841000202")
    assert again.id != gone.id
