# ruff: noqa: F811  (pytest fixtures imported from other modules are "redefined" as arguments)
"""Issue 13, the khata's money rules: who may post a payment (in PostgreSQL, not only Python), the
one neutral answer about a shop a wholesaler has no balance with, reversing a wrongly booked
payment, cancelling after a part payment (advances), bad PAID input, and the statement CSV."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.app import create_app
from db.models import (
    ActorType,
    AdminAuditLog,
    EntryType,
    InboundMessage,
    InboundStatus,
    LedgerEntry,
    OfferStatus,
    Order,
    OrderStatus,
    OutboundMessage,
    RetailerPayment,
    RetailerWholesalerCredit,
    VendorOffer,
)
from db.partitions import nepal_today
from db.session import Database
from domain.credit import account_balance, owed_to_wholesaler, set_credit_limit
from domain.errors import InvalidInput
from domain.events import take_notices
from domain.fulfilment import cancel_order
from domain.integrity import run_checks
from domain.khata_payments import record_payment
from domain.ledger import NoOpenBalance, post_debit
from domain.money import npr
from domain.parties import create_admin, register_retailer, register_wholesaler
from domain.statement_csv import write_statement_csv
from domain.statements import StatementRow, statement_rows
from handlers import Sender
from handlers.dispatch import handle_message
from tests.browser import support
from tests.fake_twilio import PUBLIC, fake_twilio, run_worker, signed_headers, thok_settings, twilio_form  # noqa: F401
from tests.invariants import check_invariants
from tests.test_dashboard import admin, app, audit_rows, dash_db, login, post  # noqa: F401
from tests.test_runtime_role import runtime_role, runtime_url  # noqa: F401
from thok.config import Settings
from thok.runtime import redis_for
from usecases.actor import Actor
from usecases.khata import reverse_payment
from workers import context

D = Decimal
_sids = itertools.count(1)


def _world(session: Session, limit: str = "50000") -> dict[str, Any]:
    """A retailer, two wholesalers (no per-wholesaler limit rows) and an admin."""
    r = register_retailer(session, name="Maya", shop_name="Maya Kirana", phone="9841000601", credit_limit=D(limit))
    w1 = register_wholesaler(session, name="Sita", business_name="Sita Traders", phone="9851000601")
    w2 = register_wholesaler(session, name="Hari", business_name="Hari Suppliers", phone="9851000602")
    admin = create_admin(session, "khata-rights@thok.local", "a-long-enough-password")
    session.flush()
    return {"r": r.id, "w1": w1.id, "w2": w2.id, "admin": admin.id, "retailer": r, "wholesaler2": w2}


def _payment_row(
    session: Session, retailer: int, amount: str, *, by_wholesaler: int | None, paid_to: int | None
) -> int:
    return int(
        session.execute(
            text(
                "INSERT INTO retailer_payments (retailer_id, wholesaler_id, amount, method, recorded_by_wholesaler_id, "
                "recorded_by_admin_id) VALUES (:r, :w, :a, 'CASH', :by, CASE WHEN :by IS NULL THEN "
                "(SELECT min(id) FROM admins) END) RETURNING id"
            ),
            {"r": retailer, "w": paid_to, "a": amount, "by": by_wholesaler},
        ).scalar_one()
    )


def _ledger_post(session: Session, entry_type: str, retailer: int, amount: str, key: str, **kw: Any) -> str:
    """ledger_post() called as any SQL client could, bypassing the Python checks."""
    params = {"wholesaler": None, "payment": None, "reverses": None} | kw
    return str(
        session.execute(
            text(
                "SELECT outcome FROM ledger_post(CAST(:t AS ledger_entry_type), :r, :a, :k, 'direct', NULL, "
                ":wholesaler, :payment, :reverses, 0)"
            ),
            {"t": entry_type, "r": retailer, "a": amount, "k": key, **params},
        ).scalar_one()
    )


def _entries(session: Session, retailer: int) -> int:
    return int(session.scalar(select(func.count()).where(LedgerEntry.retailer_id == retailer)) or 0)


# --- 1. who may post a payment: enforced by ledger_post() ----------------------------------------


def test_ledger_post_books_a_wholesalers_payment_only_against_what_is_owed_to_them(session: Session) -> None:
    w = _world(session)
    post_debit(
        session, retailer_id=w["r"], amount=D("5000"), idempotency_key="o1", description="o", wholesaler_id=w["w1"]
    )
    before = _entries(session, w["r"])

    # W2 never traded with the shop: its payment would have wiped the debt owed to W1.
    stranger = _payment_row(session, w["r"], "5000", by_wholesaler=w["w2"], paid_to=w["w2"])
    assert _ledger_post(session, "CREDIT", w["r"], "5000", "p1", wholesaler=w["w2"], payment=stranger) == "not_owed"
    # Nor may it book its payment as paid to W1, or a bare CREDIT against W2's (empty) balance.
    as_other = _payment_row(session, w["r"], "100", by_wholesaler=w["w2"], paid_to=w["w1"])
    assert _ledger_post(session, "CREDIT", w["r"], "100", "p2", wholesaler=w["w1"], payment=as_other) == "not_owed"
    assert _ledger_post(session, "CREDIT", w["r"], "100", "p3", wholesaler=w["w2"]) == "not_owed"
    assert _entries(session, w["r"]) == before and account_balance(session, w["r"]).outstanding == D("5000")

    # W1 may pay up to what is owed to W1, with no per-wholesaler limit row ever set.
    own = _payment_row(session, w["r"], "5001", by_wholesaler=w["w1"], paid_to=w["w1"])
    assert (
        _ledger_post(session, "CREDIT", w["r"], "5001", "p4", wholesaler=w["w1"], payment=own) == "overpaid_wholesaler"
    )
    ok = _payment_row(session, w["r"], "2000", by_wholesaler=w["w1"], paid_to=w["w1"])
    assert _ledger_post(session, "CREDIT", w["r"], "2000", "p5", wholesaler=w["w1"], payment=ok) == "posted"
    assert owed_to_wholesaler(session, w["r"], w["w1"]) == D("3000")
    assert account_balance(session, w["r"]).outstanding == D("3000")
    # The refused payments' rows were written by hand above (record_payment rolls them back).
    assert [p for p in run_checks(session) if p.check != "payment-entry"] == []


def test_record_payment_by_a_stranger_wholesaler_is_refused_and_leaves_nothing(session: Session) -> None:
    w = _world(session)
    post_debit(
        session, retailer_id=w["r"], amount=D("800"), idempotency_key="o1", description="o", wholesaler_id=w["w1"]
    )
    with pytest.raises(NoOpenBalance):
        record_payment(
            session,
            retailer_id=w["r"],
            amount=D("800"),
            method="cash",
            reference=None,
            recorded_by_wholesaler_id=w["w2"],
        )
    with pytest.raises(NoOpenBalance):  # naming another wholesaler as the one paid does not help
        record_payment(
            session,
            retailer_id=w["r"],
            amount=D("800"),
            method="cash",
            reference=None,
            recorded_by_wholesaler_id=w["w2"],
            wholesaler_id=w["w1"],
        )
    assert session.scalar(select(func.count()).select_from(RetailerPayment)) == 0
    assert account_balance(session, w["r"]).outstanding == D("800")


def test_an_admin_pays_a_named_wholesalers_debt_or_the_total(session: Session) -> None:
    w = _world(session)
    post_debit(
        session, retailer_id=w["r"], amount=D("600"), idempotency_key="o1", description="o", wholesaler_id=w["w1"]
    )
    post_debit(
        session, retailer_id=w["r"], amount=D("400"), idempotency_key="o2", description="o", wholesaler_id=w["w2"]
    )
    with pytest.raises(InvalidInput, match="more than the NPR 400 owed to Hari Suppliers"):
        record_payment(
            session,
            retailer_id=w["r"],
            amount=D("500"),
            method="cash",
            reference=None,
            recorded_by_admin_id=w["admin"],
            wholesaler_id=w["w2"],
        )
    record_payment(
        session, retailer_id=w["r"], amount=D("1000"), method="cash", reference=None, recorded_by_admin_id=w["admin"]
    )  # to Thok overall: the total, never more
    assert account_balance(session, w["r"]).outstanding == 0
    assert run_checks(session) == []


def test_the_runtime_role_cannot_invent_a_pairs_debt_to_book_a_payment(
    fresh_database: Database, runtime_url: str
) -> None:
    """The web and worker role may INSERT a pair's row (to set a limit), but not with a balance:
    otherwise it could make room for a stranger wholesaler's payment."""
    with fresh_database.unit_of_work() as uow:
        w = _world(uow.session)
        post_debit(
            uow.session,
            retailer_id=w["r"],
            amount=D("700"),
            idempotency_key="o1",
            description="o",
            wholesaler_id=w["w1"],
        )
        uow.commit()
    runtime = Database(runtime_url)
    try:
        with runtime.unit_of_work() as uow:
            with pytest.raises(IntegrityError, match="balance_starts_at_zero"), uow.session.begin_nested():
                uow.session.execute(
                    text(
                        "INSERT INTO retailer_wholesaler_credits (retailer_id, wholesaler_id, outstanding) "
                        "VALUES (:r, :w, 700)"
                    ),
                    {"r": w["r"], "w": w["w2"]},
                )
            uow.session.execute(  # a limit, at zero balance, is the runtime role's to set
                text(
                    "INSERT INTO retailer_wholesaler_credits (retailer_id, wholesaler_id, credit_limit) "
                    "VALUES (:r, :w, 900)"
                ),
                {"r": w["r"], "w": w["w2"]},
            )
            with pytest.raises(NoOpenBalance):
                record_payment(
                    uow.session,
                    retailer_id=w["r"],
                    amount=D("700"),
                    method="cash",
                    reference=None,
                    recorded_by_wholesaler_id=w["w2"],
                )
            # ledger_post (the owner's) still opens a new pair's row with its balance.
            post_debit(
                uow.session,
                retailer_id=w["r"],
                amount=D("50"),
                idempotency_key="o2",
                description="o",
                wholesaler_id=w["w1"],
            )
            uow.commit()
        with fresh_database.session() as s:
            assert owed_to_wholesaler(s, w["r"], w["w1"]) == D("750") and owed_to_wholesaler(s, w["r"], w["w2"]) == 0
            assert account_balance(s, w["r"]).outstanding == D("750") and run_checks(s) == []
    finally:
        runtime.dispose()


# --- 2. one neutral answer ------------------------------------------------------------------------


def _say(session: Session, settings: Settings, wholesaler: Any, body: str) -> str:
    sender = Sender(kind="wholesaler", phone=wholesaler.whatsapp_number, id=wholesaler.id, language="en")
    replies = handle_message(session, sender, body, settings)
    assert len(replies) == 1
    return replies[0].body


def test_a_wholesaler_learns_nothing_about_a_shop_it_has_no_balance_with(session: Session, settings: Settings) -> None:
    w = _world(session)
    post_debit(
        session, retailer_id=w["r"], amount=D("7300"), idempotency_key="o1", description="o", wholesaler_id=w["w1"]
    )
    stranger = w["wholesaler2"]
    other = register_retailer(session, name="Paid Up", phone="9841000602", credit_limit=D("9000"))
    session.flush()
    post_debit(
        session, retailer_id=other.id, amount=D("250"), idempotency_key="o2", description="o", wholesaler_id=stranger.id
    )
    record_payment(
        session,
        retailer_id=other.id,
        amount=D("250"),
        method="cash",
        reference=None,
        recorded_by_wholesaler_id=stranger.id,
    )
    take_notices(session)

    unregistered = _say(session, settings, stranger, "PAID 9841000699 500 cash")
    owes_others = _say(session, settings, stranger, "PAID 9841000601 500 cash")
    paid_up = _say(session, settings, stranger, "PAID 9841000602 500 cash")
    neutral = {
        a.replace(n, "<phone>")
        for a, n in ((unregistered, "+9779841000699"), (owes_others, "+9779841000601"), (paid_up, "+9779841000602"))
    }
    assert len(neutral) == 1, neutral  # word for word the same answer
    assert neutral == {
        "Sorry, that did not work: you have no open balance with <phone>, so no payment can be recorded against it."
    }
    assert "7,300" not in owes_others and "Maya" not in owes_others
    assert take_notices(session) == [] and session.scalar(select(func.count()).select_from(RetailerPayment)) == 1

    # The one owed sees only what is owed to them, not the shop's total with everyone.
    post_debit(
        session, retailer_id=w["r"], amount=D("1000"), idempotency_key="o3", description="o", wholesaler_id=stranger.id
    )
    reply = _say(session, settings, stranger, "PAID 9841000601 400 esewa ES-9")
    assert reply == "Payment of NPR 400 from Maya Kirana recorded (Esewa). They now owe you NPR 600."


# --- 3. reversing a wrongly booked payment --------------------------------------------------------


def test_an_admin_reverses_a_payment_once_audited_and_both_parties_told(session: Session) -> None:
    w = _world(session)
    post_debit(
        session, retailer_id=w["r"], amount=D("1000"), idempotency_key="o1", description="o", wholesaler_id=w["w1"]
    )
    payment, credit = record_payment(
        session,
        retailer_id=w["r"],
        amount=D("400"),
        method="khalti",
        reference="KH-1",
        recorded_by_wholesaler_id=w["w1"],
    )
    take_notices(session)
    actor = Actor.admin(w["admin"], ip="10.0.0.7")
    debit = reverse_payment(session, actor, payment.id, "  booked for the wrong shop ").entry
    assert (debit.entry_type, debit.amount, debit.reverses_entry_id, debit.wholesaler_id) == (
        EntryType.DEBIT,
        D("400"),
        credit.id,
        w["w1"],
    )
    assert debit.description == f"Payment #{payment.id} reversed: booked for the wrong shop"
    assert account_balance(session, w["r"]).outstanding == D("1000") and owed_to_wholesaler(
        session, w["r"], w["w1"]
    ) == D("1000")
    audit = session.scalars(select(AdminAuditLog).where(AdminAuditLog.action == "payment.reverse")).one()
    assert (audit.admin_id, audit.entity_id, audit.ip_address) == (w["admin"], str(payment.id), "10.0.0.7")
    assert audit.after["reason"] == "booked for the wrong shop" and audit.after["outstanding"] == "1000.00"
    told = {(n.key, n.to_kind, n.to_id) for n in take_notices(session)}
    assert told == {("payment_reversed", "retailer", w["r"]), ("payment_reversed_wholesaler", "wholesaler", w["w1"])}
    with pytest.raises(InvalidInput, match="already reversed"):
        reverse_payment(session, actor, payment.id, "again")
    with pytest.raises(InvalidInput, match="say why"):
        reverse_payment(session, actor, payment.id, "   ")
    assert _entries(session, w["r"]) == 3 and run_checks(session) == []


def test_a_reversal_that_would_break_the_limit_is_refused_until_the_limit_is_raised(session: Session) -> None:
    w = _world(session, limit="1000")
    post_debit(
        session, retailer_id=w["r"], amount=D("1000"), idempotency_key="o1", description="o", wholesaler_id=w["w1"]
    )
    payment, _ = record_payment(
        session,
        retailer_id=w["r"],
        amount=D("500"),
        method="cash",
        reference=None,
        recorded_by_admin_id=w["admin"],
        wholesaler_id=w["w1"],
    )
    post_debit(
        session, retailer_id=w["r"], amount=D("500"), idempotency_key="o2", description="o", wholesaler_id=w["w1"]
    )
    actor = Actor.admin(w["admin"])
    with pytest.raises(InvalidInput, match="would exceed the credit limit .*raise it by at least NPR 500 first"):
        reverse_payment(session, actor, payment.id, "cheque bounced")
    assert _entries(session, w["r"]) == 3 and account_balance(session, w["r"]).outstanding == D("1000")
    assert session.scalar(select(func.count()).select_from(AdminAuditLog)) == 0
    set_credit_limit(session, w["r"], D("1500"))
    reverse_payment(session, actor, payment.id, "cheque bounced")
    assert account_balance(session, w["r"]).outstanding == D("1500") and run_checks(session) == []


def test_ledger_post_refuses_made_up_corrections(session: Session) -> None:
    w = _world(session)
    debit = post_debit(
        session, retailer_id=w["r"], amount=D("300"), idempotency_key="o1", description="o", wholesaler_id=w["w1"]
    )
    # A "correction" of nothing, of the same type, for another wholesaler, or beyond the original:
    # each would mint an advance or move debt between wholesalers.
    assert (
        _ledger_post(session, "CREDIT", w["r"], "10", "c1", wholesaler=w["w1"], reverses=debit.id + 999)
        == "bad_correction"
    )
    assert _ledger_post(session, "DEBIT", w["r"], "10", "c2", wholesaler=w["w1"], reverses=debit.id) == "bad_correction"
    assert (
        _ledger_post(session, "CREDIT", w["r"], "10", "c3", wholesaler=w["w2"], reverses=debit.id) == "bad_correction"
    )
    assert (
        _ledger_post(session, "CREDIT", w["r"], "301", "c4", wholesaler=w["w1"], reverses=debit.id) == "bad_correction"
    )
    assert _ledger_post(session, "CREDIT", w["r"], "300", "c5", wholesaler=w["w1"], reverses=debit.id) == "posted"
    assert _entries(session, w["r"]) == 2 and run_checks(session) == []


def test_the_dashboard_reverses_a_payment_for_admins_only(
    admin: FlaskClient, app: Flask, dash_db: Database, settings: Settings
) -> None:
    support.place_demo_order(dash_db, settings, "confirmed")
    with dash_db.unit_of_work() as uow:
        order = uow.session.scalars(select(Order).order_by(Order.id.desc())).first()
        assert order is not None and order.final_wholesaler_id is not None
        payment, _ = record_payment(
            uow.session,
            retailer_id=order.retailer_id,
            amount=D("100"),
            method="cash",
            reference=None,
            recorded_by_wholesaler_id=order.final_wholesaler_id,
        )
        take_notices(uow.session)
        uow.commit()
        rid, pid, wid = order.retailer_id, payment.id, order.final_wholesaler_id
    path = f"/dashboard/retailers/{rid}/payments/{pid}/reverse"
    assert f"Reverse payment #{pid}".encode() in admin.get(f"/dashboard/retailers/{rid}/khata").data
    viewer = app.test_client()
    login(viewer, support.VIEWER)
    assert post(viewer, f"/dashboard/retailers/{rid}/khata", {}).status_code in (403, 405)
    assert viewer.post(path, data={"reason": "x", "csrf_token": "nope"}).status_code == 400  # CSRF
    assert post(viewer, path, {"reason": "x"}).status_code == 403
    assert audit_rows(dash_db, "payment.reverse", pid) == []

    done = post(admin, path, {"reason": "wrong shop"}, follow_redirects=True)
    assert f"Payment #{pid} reversed".encode() in done.data
    again = post(admin, path, {"reason": "wrong shop"}, follow_redirects=True)
    assert b"already reversed" in again.data
    [audit] = audit_rows(dash_db, "payment.reverse", pid)
    assert audit.after["reason"] == "wrong shop"
    with dash_db.session() as s:
        reversal = s.scalars(select(LedgerEntry).where(LedgerEntry.idempotency_key.like("reversal:%"))).one()
        assert (reversal.entry_type, reversal.amount, reversal.wholesaler_id) == (EntryType.DEBIT, D("100"), wid)
        kinds = set(s.scalars(select(OutboundMessage.idempotency_key).where(OutboundMessage.kind == "payment_update")))
        assert {f"notice:payment:{pid}:reversed", f"notice:payment:{pid}:reversed:w"} <= kinds
        assert run_checks(s) == []


def test_cli_reverse_payment(
    fresh_database: Database, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    from thok import runtime
    from thok.cli import main

    with fresh_database.unit_of_work() as uow:
        w = _world(uow.session)
        post_debit(
            uow.session,
            retailer_id=w["r"],
            amount=D("900"),
            idempotency_key="o1",
            description="o",
            wholesaler_id=w["w1"],
        )
        payment, _ = record_payment(
            uow.session,
            retailer_id=w["r"],
            amount=D("900"),
            method="cash",
            reference=None,
            recorded_by_wholesaler_id=w["w1"],
        )
        take_notices(uow.session)
        uow.commit()
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM"):
        monkeypatch.delenv(name, raising=False)
    runtime.settings.cache_clear()
    try:
        runner = CliRunner()
        args = [
            "reverse-payment",
            str(payment.id),
            "--reason",
            "duplicate of a bank transfer",
            "--admin",
            "khata-rights@thok.local",
        ]
        # It tells both parties on WhatsApp: a production run without Twilio refuses in one line.
        res = runner.invoke(main, args)
        assert res.exit_code == 1 and "TWILIO_ACCOUNT_SID is not set" in res.output, res.output
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a-test-token")
        monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "whatsapp:+14155238886")
        runtime.settings.cache_clear()
        res = runner.invoke(main, args)
        assert res.exit_code == 0, res.output
        assert f"payment #{payment.id} reversed" in res.output and "outstanding now NPR 900.00" in res.output
        res = runner.invoke(main, args)
        assert res.exit_code == 1 and "already reversed" in res.output
        res = runner.invoke(main, ["check"])
        assert res.exit_code == 0 and "all agree" in res.output, res.output
        with fresh_database.session() as s:
            assert s.scalar(select(func.count()).where(AdminAuditLog.action == "payment.reverse")) == 1
            assert s.scalar(select(func.count()).where(OutboundMessage.kind == "payment_update")) == 2
            assert run_checks(s) == []
    finally:
        runtime.settings.cache_clear()
        context.configure(None)  # the notices built job services from this test's environment


# --- 4. cancelling after a part payment: an advance -----------------------------------------------


def _confirmed_order(session: Session, w: dict[str, Any], total: str) -> Order:
    order = Order(
        ref="TK-ADV" + str(next(_sids)),
        retailer_id=w["r"],
        final_wholesaler_id=w["w1"],
        status=OrderStatus.CONFIRMED,
        final_total=D(total),
        estimated_total=D(total),
    )
    session.add(order)
    session.flush()
    session.add(VendorOffer(order_id=order.id, wholesaler_id=w["w1"], status=OfferStatus.WON, total_price=D(total)))
    post_debit(
        session,
        retailer_id=w["r"],
        amount=D(total),
        idempotency_key=f"order:{order.id}:debit",
        description=f"Order {order.ref}",
        order_id=order.id,
        wholesaler_id=w["w1"],
    )
    return order


def test_a_confirmed_order_is_cancelled_after_a_part_payment_and_the_rest_is_an_advance(
    session: Session, settings: Settings
) -> None:
    w = _world(session, limit="100")
    order = _confirmed_order(session, w, "20")
    record_payment(
        session, retailer_id=w["r"], amount=D("1"), method="cash", reference=None, recorded_by_wholesaler_id=w["w1"]
    )
    cancel_order(session, order.id, actor_type=ActorType.ADMIN, actor_id=w["admin"], reason="shop closed")
    assert order.status is OrderStatus.CANCELLED
    bal = account_balance(session, w["r"])
    assert (bal.outstanding, bal.advance, bal.available) == (0, D("1"), D("101"))
    pair = session.scalars(select(RetailerWholesalerCredit).where(RetailerWholesalerCredit.retailer_id == w["r"])).one()
    assert (pair.outstanding, pair.advance) == (0, D("1"))
    check_invariants(session)

    # The khata shows it: hisab, the statement (a negative balance), the dashboard's card (below).
    sender = Sender(kind="retailer", phone=w["retailer"].whatsapp_number, id=w["r"], language="en")
    hisab = handle_message(session, sender, "hisab", settings)[0].body
    assert "Outstanding: NPR 0" in hisab and "Advance (your money, used by your next order): NPR 1" in hisab
    today = nepal_today()  # statements run by Nepal days: UTC's date is a day behind after 18:15 UTC
    rows = statement_rows(session, w["r"], today.replace(day=1), today)
    assert rows[-1].balance == D("-1") and rows[-1].credit == D("20")

    # The next order uses it first: NPR 10 more is NPR 9 owed.
    _confirmed_order(session, w, "10")
    bal = account_balance(session, w["r"])
    assert (bal.outstanding, bal.advance) == (D("9"), 0)
    assert owed_to_wholesaler(session, w["r"], w["w1"]) == D("9")
    check_invariants(session)


def test_the_dashboard_cancels_after_a_part_payment_and_shows_the_advance(
    admin: FlaskClient, dash_db: Database, settings: Settings
) -> None:
    order_id, _ = support.place_demo_order(dash_db, settings, "confirmed")
    with dash_db.unit_of_work() as uow:
        order = uow.session.get(Order, order_id)
        assert order is not None and order.final_wholesaler_id is not None and order.final_total
        rid = order.retailer_id
        before = account_balance(uow.session, rid)
        # Pay all the shop owes this wholesaler but NPR 1: cancelling returns NPR 1 more than is owed.
        owed = owed_to_wholesaler(uow.session, rid, order.final_wholesaler_id)
        record_payment(
            uow.session,
            retailer_id=rid,
            amount=owed - 1,
            method="cash",
            reference=None,
            recorded_by_wholesaler_id=order.final_wholesaler_id,
        )
        take_notices(uow.session)
        uow.commit()
        total = order.final_total
    done = post(admin, f"/dashboard/orders/{order_id}/cancel", {"reason": "shop closed"}, follow_redirects=True)
    assert b"Order cancelled" in done.data
    with dash_db.session() as s:
        after = account_balance(s, rid)
        # Everything paid towards this order beyond what is still owed comes back as an advance.
        assert after.net == before.net - (owed - 1) - total
        assert after.advance > 0 and after.outstanding == 0
        assert run_checks(s) == []
    page = admin.get(f"/dashboard/retailers/{rid}/khata").get_data(as_text=True)
    assert "Advance (the shop's, used by its next order)" in page and f"advance {npr(after.advance)}<" in page


def test_the_database_keeps_advances_meaningful(session: Session) -> None:
    w = _world(session)
    post_debit(
        session, retailer_id=w["r"], amount=D("50"), idempotency_key="o1", description="o", wholesaler_id=w["w1"]
    )
    with pytest.raises(IntegrityError, match="ck_credit_accounts_advance_only_without_debt"), session.begin_nested():
        session.execute(text("UPDATE credit_accounts SET advance = 5 WHERE retailer_id = :r"), {"r": w["r"]})
    # A payment never leaves a credit balance; only a correction does.
    with (
        pytest.raises(IntegrityError, match="ck_ledger_entries_credit_balance_only_from_correction"),
        session.begin_nested(),
    ):
        session.execute(
            text(
                "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, "
                "balance_after) VALUES ('CREDIT', 60, :r, 'overpaid', 'raw-1', -10)"
            ),
            {"r": w["r"]},
        )
    # An admin payment beyond the debt is still refused (no advance payments).
    with pytest.raises(InvalidInput, match="more than the NPR 50 owed"):
        record_payment(
            session, retailer_id=w["r"], amount=D("60"), method="cash", reference=None, recorded_by_admin_id=w["admin"]
        )


# --- 5. over-long PAID values over WhatsApp end PROCESSED ----------------------------------------


def test_paid_with_over_long_values_is_answered_and_processed(
    thok_settings: Any, fresh_database: Database, fake_twilio: Any, redis: Any
) -> None:
    context.configure(thok_settings)
    try:
        with fresh_database.unit_of_work() as uow:
            w = _world(uow.session)
            post_debit(
                uow.session,
                retailer_id=w["r"],
                amount=D("900"),
                idempotency_key="o1",
                description="o",
                wholesaler_id=w["w1"],
            )
            uow.commit()
        client = create_app(thok_settings, fresh_database, redis_for(thok_settings), TESTING=True).test_client()
        path, phone = "/webhooks/twilio/whatsapp", "+9779851000601"

        def send(body: str) -> tuple[str, list[str]]:
            before = len(fake_twilio.posts())
            sid = f"SM{next(_sids):032d}"
            form = twilio_form(sid, sender=phone, body=body)
            assert client.post(path, data=form, headers=signed_headers(path, form), base_url=PUBLIC).status_code == 200
            run_worker(redis)
            with fresh_database.session() as s:
                status = s.scalars(select(InboundMessage.status).where(InboundMessage.message_sid == sid)).one()
            return status, [
                r.form.get("Body", "") for r in fake_twilio.posts()[before:] if r.form.get("To") == f"whatsapp:{phone}"
            ]

        status, replies = send("PAID 9841000601 100 esewa " + "R" * 150)
        assert status is InboundStatus.PROCESSED
        assert replies == [
            "The payment reference is 150 characters long; at most 100 fit. "
            "Please send PAID again with a shorter reference."
        ]
        status, replies = send("PAID 9841000601 99999999999999999 cash")
        assert status is InboundStatus.PROCESSED and len(replies) == 1 and "too large" in replies[0]
        status, replies = send("PAID 9" + "8" * 38 + " 100 cash")  # 39 digits
        assert status is InboundStatus.PROCESSED and len(replies) == 1, replies
        with fresh_database.session() as s:
            assert s.scalar(select(func.count()).select_from(RetailerPayment)) == 0
    finally:
        context.configure(None)


# --- 6. the statement CSV is escaped against formulas ----------------------------------------------


def test_statement_csv_escapes_cells_a_spreadsheet_would_run() -> None:
    when = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)
    evil = ['=HYPERLINK("http://x","pay")', "+9779841000601", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
    rows = [
        StatementRow(when, "CREDIT", d, ref, None, D("1"), D("-1")) for d, ref in zip(evil, ["=1+1"] * 6, strict=True)
    ]
    rows.append(StatementRow(when, "DEBIT", "Order TK-AB12 - 2 bora", "TK-AB12", D("5"), None, D("4")))
    out = io.StringIO()
    write_statement_csv(rows, out)
    lines = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    assert [line[2] for line in lines[:-1]] == ["'" + d for d in evil]
    assert {line[3] for line in lines[:-1]} == {"'=1+1"}
    assert lines[0][6] == "-1.00"  # an advance stays a number
    assert lines[-1][2:4] == ["Order TK-AB12 - 2 bora", "TK-AB12"]  # ordinary text is left alone
