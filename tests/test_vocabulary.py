"""Vocabulary as data (issue 14): payment methods and units are rows of their tables, which the
columns reference, and the Python tables the parser and the pages read are the same rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Enum, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Base, PaymentMethodRow
from domain.errors import InvalidInput
from domain.khata_payments import payment_method, record_payment
from domain.ledger import post_debit
from domain.parties import create_admin, register_retailer
from parsing import lexicon
from parsing.payment_methods import DEFAULT_METHODS, PaymentMethod, label, method_code
from tests import factories


def test_the_seeded_payment_methods_are_the_parsers(session: Session) -> None:
    rows = {r.code: r for r in session.scalars(select(PaymentMethodRow))}
    assert set(rows) == {m.code for m in DEFAULT_METHODS} == {m.value for m in PaymentMethod}
    for m in DEFAULT_METHODS:
        row = rows[m.code]
        assert (row.label_en, row.label_ne, tuple(row.spellings), row.active) == (
            m.label_en,
            m.label_ne,
            m.spellings,
            m.active,
        ), m.code


def test_every_spelling_names_its_method_for_the_parser_and_the_khata() -> None:
    assert [method_code(s) for s in ("nagad", "नगद", "BANK_TRANSFER", "bank-transfer", "phonepay", "qr")] == [
        "CASH",
        "CASH",
        "BANK_TRANSFER",
        "BANK_TRANSFER",
        "FONEPAY",
        "FONEPAY",
    ]
    assert lexicon.PAYMENT_METHODS[lexicon.word_key("बैंक")] == "bank"  # the parser reports the method's word
    assert payment_method("बैंक") == "BANK_TRANSFER" and payment_method(" Esewa ") == "ESEWA"
    assert (label("BANK_TRANSFER"), label("CASH", "ne")) == ("Bank Transfer", "नगद")
    with pytest.raises(InvalidInput, match="use cash, esewa, khalti, fonepay, bank"):
        payment_method("bitcoin")


def test_a_method_or_unit_without_a_row_is_refused_by_the_database(session: Session) -> None:
    admin = create_admin(session, "vocab@thok.test", "a long enough password")
    shop = register_retailer(session, name="Sita", phone="9846000911", credit_limit=Decimal(5000))
    session.flush()
    post_debit(session, retailer_id=shop.id, amount=Decimal(500), idempotency_key="vocab-1", description="order")
    payment, _ = record_payment(
        session, retailer_id=shop.id, amount=Decimal(100), method="नगद", reference=None, recorded_by_admin_id=admin.id
    )
    assert payment.method == PaymentMethod.CASH
    with pytest.raises(IntegrityError, match="fk_retailer_payments_method_payment_methods"), session.begin_nested():
        session.execute(text("UPDATE retailer_payments SET method = 'PAYPAL' WHERE id = :id"), {"id": payment.id})
    product = factories.product(session, "VOCAB-1", unit="pathi")
    session.flush()
    with pytest.raises(IntegrityError, match="fk_products_unit_units"), session.begin_nested():
        session.execute(text("UPDATE products SET unit = 'gallon' WHERE id = :id"), {"id": product.id})
    # a new method is a row: once it is there, payments may use it (no ALTER TYPE)
    session.execute(
        text(
            "INSERT INTO payment_methods (code, label_en, label_ne, spellings) "
            "VALUES ('IMEPAY', 'IME Pay', 'आइएमई पे', '{imepay}')"
        )
    )
    session.execute(text("UPDATE retailer_payments SET method = 'IMEPAY' WHERE id = :id"), {"id": payment.id})


def _model_enums() -> dict[str, tuple[str, list[str]]]:
    """{PostgreSQL type name: (a column using it, the model's values)} for every enum column."""
    found: dict[str, tuple[str, list[str]]] = {}
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, Enum) and column.type.name:
                found.setdefault(column.type.name, (f"{table.name}.{column.name}", list(column.type.enums)))
    return found


def test_every_enum_column_has_the_databases_values_in_its_order(session: Session) -> None:
    """Alembic's autogenerate does not compare enum values: a value added to a Python enum without
    a migration (or the other way round) would pass test_models_and_migration_agree and fail on the
    first row that uses it. This compares them, in order (ORDER BY on an enum column follows it)."""
    labels: dict[str, list[str]] = {}
    for name, label_ in session.execute(
        text(
            "SELECT t.typname, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
            "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' "
            "ORDER BY t.typname, e.enumsortorder"
        )
    ):
        labels.setdefault(name, []).append(label_)
    models = _model_enums()
    assert {"order_status", "offer_status", "outbound_status", "ledger_entry_type"} <= set(models)
    for name, (where, values) in models.items():
        assert labels.get(name) == values, f"{where}: the model's {name} is {values}, the database's {labels.get(name)}"
    assert set(labels) <= set(models), f"enum types no model column uses: {set(labels) - set(models)}"
