"""The khata: postings, idempotency, corrections, payments, statements."""

from __future__ import annotations

import csv
import io
import threading
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db.models import EntryType, LedgerEntry, RetailerPayment
from db.session import Database
from domain.credit import account_balance, hold_credit, set_wholesaler_credit_limit
from domain.errors import CreditLimitExceeded, InvalidInput, NotFound
from domain.integrity import run_checks
from domain.khata_payments import record_payment
from domain.ledger import last_entries, post_credit, post_debit, reverse_entry
from domain.parties import create_admin, register_retailer, register_wholesaler
from domain.statement_csv import write_statement_csv
from domain.statements import statement_rows
from parsing.payment_methods import PaymentMethod

D = Decimal


def _retailer(session: Session, limit: str = "50000", phone: str = "9841000301") -> int:
    r = register_retailer(session, name="Maya", phone=phone, credit_limit=D(limit))
    session.flush()
    return r.id


def _entries(session: Session, retailer_id: int) -> int:
    return session.scalar(select(func.count()).where(LedgerEntry.retailer_id == retailer_id)) or 0


def test_debit_moves_outstanding_and_turns_the_hold_into_debt(session: Session) -> None:
    r = _retailer(session, "10000")
    hold_credit(session, r, D("5000"), order_id=None)
    e = post_debit(
        session,
        retailer_id=r,
        amount=D("4800"),
        idempotency_key="order:1:debit",
        description="TK-AB12",
        release_held=D("5000"),
    )
    assert (e.entry_type, e.amount, e.balance_after) == (EntryType.DEBIT, D("4800"), D("4800"))
    b = account_balance(session, r)
    assert (b.outstanding, b.held, b.available) == (D("4800"), 0, D("5200"))


def test_posting_the_same_event_twice_is_a_no_op(session: Session) -> None:
    r = _retailer(session)
    first = post_debit(session, retailer_id=r, amount=D("1200"), idempotency_key="order:7", description="o")
    again = post_debit(session, retailer_id=r, amount=D("1200"), idempotency_key="order:7", description="o")
    assert again.id == first.id and _entries(session, r) == 1
    assert account_balance(session, r).outstanding == D("1200")
    with pytest.raises(InvalidInput, match="a different event needs its own key"):
        post_debit(session, retailer_id=r, amount=D("99"), idempotency_key="order:7", description="o")


def test_a_retried_debit_that_filled_the_limit_returns_the_entry_not_a_refusal(session: Session) -> None:
    r = _retailer(session, "1000")
    first = post_debit(session, retailer_id=r, amount=D("1000"), idempotency_key="order:9", description="o")
    assert post_debit(session, retailer_id=r, amount=D("1000"), idempotency_key="order:9", description="o") == first
    with pytest.raises(CreditLimitExceeded):
        post_debit(session, retailer_id=r, amount=D("1000"), idempotency_key="order:10", description="o")


def test_debit_over_the_limit_is_refused_before_the_check(session: Session) -> None:
    r = _retailer(session, "1000")
    with pytest.raises(CreditLimitExceeded, match="available NPR 1,000, order NPR 1,000.50"):
        post_debit(session, retailer_id=r, amount=D("1000.50"), idempotency_key="k", description="o")
    assert _entries(session, r) == 0


def test_credit_larger_than_the_debt_is_refused(session: Session) -> None:
    r = _retailer(session)
    post_debit(session, retailer_id=r, amount=D("500"), idempotency_key="d", description="o")
    with pytest.raises(InvalidInput, match="more than the NPR 500 owed; record at most NPR 500"):
        post_credit(session, retailer_id=r, amount=D("600"), idempotency_key="c", description="refund")
    assert account_balance(session, r).outstanding == D("500") and _entries(session, r) == 1


def test_a_refusal_leaves_the_transaction_usable_and_nothing_written(session: Session) -> None:
    # ledger_post answers a refusal as an outcome, not an error: the caller's unit of work goes on.
    r = _retailer(session, "1000")
    hold_credit(session, r, D("400"), order_id=None)
    with pytest.raises(InvalidInput, match="cannot release NPR 500: NPR 400 is held"):
        post_debit(session, retailer_id=r, amount=D("10"), idempotency_key="k1", description="o", release_held=D("500"))
    with pytest.raises(CreditLimitExceeded, match="available NPR 600"):
        post_debit(session, retailer_id=r, amount=D("601"), idempotency_key="k2", description="o")
    with pytest.raises(NotFound, match="retailer 0 has no credit account"):
        post_debit(session, retailer_id=0, amount=D("1"), idempotency_key="k3", description="o")
    assert _entries(session, r) == 0
    fits = post_debit(session, retailer_id=r, amount=D("600"), idempotency_key="k2", description="o")
    assert fits.balance_after == D("600")
    b = account_balance(session, r)
    assert (b.outstanding, b.held, b.available) == (D("600"), D("400"), 0)


def test_a_refused_payment_leaves_no_payment_row(session: Session) -> None:
    r = _retailer(session)
    admin = create_admin(session, "cashier@example.com", "a long enough password")
    post_debit(session, retailer_id=r, amount=D("500"), idempotency_key="d", description="o")
    with pytest.raises(InvalidInput, match="more than the NPR 500 owed"):
        record_payment(
            session, retailer_id=r, amount=D("501"), method="cash", reference="R1", recorded_by_admin_id=admin.id
        )
    assert session.scalar(select(func.count()).select_from(RetailerPayment)) == 0
    pay, entry = record_payment(
        session, retailer_id=r, amount=D("500"), method="cash", reference="R1", recorded_by_admin_id=admin.id
    )
    assert entry.payment_id == pay.id and entry.balance_after == 0


def test_reversals_reference_the_original_and_never_exceed_it(session: Session) -> None:
    r = _retailer(session)
    debit = post_debit(session, retailer_id=r, amount=D("1000"), idempotency_key="d", description="TK-0001")
    part = reverse_entry(session, debit.id, "2 kg rice returned", "return:1", amount=D("300"))
    assert part.reverses_entry_id == debit.id and part.entry_type is EntryType.CREDIT
    assert reverse_entry(session, debit.id, "2 kg rice returned", "return:1", amount=D("300")).id == part.id
    with pytest.raises(InvalidInput, match="only NPR 700 of its NPR 1,000 is left"):
        reverse_entry(session, debit.id, "cancel", "cancel:1", amount=D("701"))
    rest = reverse_entry(session, debit.id, "order cancelled", "cancel:1")
    assert rest.amount == D("700") and rest.balance_after == 0
    with pytest.raises(InvalidInput, match="already fully reversed"):
        reverse_entry(session, debit.id, "again", "cancel:2")
    with pytest.raises(InvalidInput, match="only a DEBIT"):
        reverse_entry(session, rest.id, "no", "x")
    session.refresh(debit)
    assert debit.amount == D("1000")  # the original is untouched


def test_ledger_rows_cannot_be_updated_or_deleted(session: Session) -> None:
    r = _retailer(session)
    e = post_debit(session, retailer_id=r, amount=D("10"), idempotency_key="d", description="o")
    for sql in ("UPDATE ledger_entries SET amount = 1 WHERE id = :i", "DELETE FROM ledger_entries WHERE id = :i"):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(sql), {"i": e.id})


def test_payment_creates_exactly_one_credit_and_a_reference_is_booked_once(session: Session) -> None:
    r = _retailer(session)
    admin = create_admin(session, "khata@thok.local", "a-long-password")
    post_debit(session, retailer_id=r, amount=D("8000"), idempotency_key="d", description="o")
    pay, entry = record_payment(
        session, retailer_id=r, amount=D("5000"), method="esewa", reference="ES123", recorded_by_admin_id=admin.id
    )
    assert entry.payment_id == pay.id and entry.amount == D("5000") and entry.balance_after == D("3000")
    assert pay.method == PaymentMethod.ESEWA
    # A retried job (same method and reference) gets the same pair back.
    again = record_payment(
        session, retailer_id=r, amount=D("5000"), method="esewa", reference="ES123", recorded_by_admin_id=admin.id
    )
    assert again == (pay, entry)
    with pytest.raises(InvalidInput, match="reference ES123 is already recorded"):
        record_payment(
            session,
            retailer_id=r,
            amount=D("100"),
            method="esewa",
            reference="ES123",
            recorded_by_admin_id=admin.id,
            idempotency_key="other",
        )
    assert session.scalar(select(func.count()).select_from(RetailerPayment)) == 1
    assert account_balance(session, r).outstanding == D("3000")


def test_wholesaler_recorded_payment_reduces_what_is_owed_to_them(session: Session) -> None:
    r = _retailer(session)
    w = register_wholesaler(session, name="Sita", phone="9851000301").id
    set_wholesaler_credit_limit(session, r, w, D("10000"))
    post_debit(session, retailer_id=r, amount=D("6000"), idempotency_key="d", description="o", wholesaler_id=w)
    post_debit(session, retailer_id=r, amount=D("1000"), idempotency_key="d2", description="elsewhere")
    with pytest.raises(InvalidInput, match="more than the NPR 6,000 owed to Sita"):
        record_payment(
            session, retailer_id=r, amount=D("6000.01"), method="cash", reference=None, recorded_by_wholesaler_id=w
        )
    pay, _ = record_payment(
        session, retailer_id=r, amount=D("2500"), method="khalti", reference="K9", recorded_by_wholesaler_id=w
    )
    assert pay.wholesaler_id == w
    per = session.execute(
        text("SELECT outstanding FROM retailer_wholesaler_credits WHERE retailer_id = :r"), {"r": r}
    ).scalar()
    assert per == D("3500") and account_balance(session, r).outstanding == D("4500")
    assert run_checks(session) == []


def test_last_entries_are_newest_first(session: Session) -> None:
    r = _retailer(session)
    for i in range(7):
        post_debit(session, retailer_id=r, amount=D(100 + i), idempotency_key=f"d{i}", description=f"o{i}")
    got = last_entries(session, r)
    assert [e.description for e in got] == ["o6", "o5", "o4", "o3", "o2", "o1", "o0"][:5]
    assert got[0].balance_after == account_balance(session, r).outstanding


def _raw_entry(session: Session, r: int, kind: str, amount: str, balance: str, when: str, key: str) -> None:
    session.execute(
        text(
            "INSERT INTO ledger_entries (entry_type, amount, retailer_id, description, idempotency_key, "
            "balance_after, created_at) VALUES (:t, :a, :r, :d, :k, :b, :c)"
        ),
        {"t": kind, "a": amount, "r": r, "d": f"{kind.lower()} {key}", "k": key, "b": balance, "c": when},
    )


def test_statement_covers_the_nepal_dates_asked_for_with_an_opening_balance(session: Session) -> None:
    r = _retailer(session)
    # Nepal is UTC+05:45: 2026-03-31 19:00 UTC is already 1 April in Kathmandu.
    _raw_entry(session, r, "DEBIT", "1000", "1000", "2026-03-15 10:00+00", "a")
    _raw_entry(session, r, "DEBIT", "2000", "3000", "2026-03-31 19:00+00", "b")
    _raw_entry(session, r, "CREDIT", "500", "2500", "2026-04-30 18:30+00", "c")  # 1 May, Nepal
    rows = statement_rows(session, r, date(2026, 4, 1), date(2026, 4, 30))
    assert [(x.entry_type, x.debit, x.credit, x.balance) for x in rows] == [
        ("OPENING", None, None, D("1000")),
        ("DEBIT", D("2000"), None, D("3000")),
    ]
    out = io.StringIO()
    write_statement_csv(rows, out)
    lines = list(csv.reader(io.StringIO(out.getvalue())))
    assert lines[0] == ["date", "type", "description", "order ref", "debit", "credit", "balance"]
    assert lines[2] == ["2026-04-01 00:45", "DEBIT", "debit b", "", "2000.00", "", "3000.00"]


def test_parallel_posts_of_one_event_book_one_entry(fresh_database: Database) -> None:
    with fresh_database.unit_of_work() as uow:
        r = _retailer(uow.session, "100000")
        uow.commit()
    barrier = threading.Barrier(6)
    ids: list[int] = []

    def post(key: str) -> None:
        with fresh_database.unit_of_work() as uow:
            barrier.wait()
            e = post_debit(uow.session, retailer_id=r, amount=D("250"), idempotency_key=key, description="o")
            uow.commit()
            ids.append(e.id)

    threads = [threading.Thread(target=post, args=(k,)) for k in ["same"] * 4 + ["x", "y"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 6 and len(set(ids)) == 3
    with fresh_database.session() as s:
        assert _entries(s, r) == 3
        assert account_balance(s, r).outstanding == D("750")
        assert run_checks(s) == []  # running balances consistent under concurrency


def test_cli_statement_record_payment_and_limit(
    fresh_database: Database, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path, redis_url: str
) -> None:  # type: ignore[no-untyped-def]
    from thok import runtime
    from thok.cli import main

    with fresh_database.unit_of_work() as uow:
        r = _retailer(uow.session, "10000", phone="9841000399")
        create_admin(uow.session, "ops@thok.local", "a-long-password")
        post_debit(uow.session, retailer_id=r, amount=D("4000"), idempotency_key="d", description="TK-CLI1")
        uow.commit()
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    # record-payment tells the shop on WhatsApp (usecases.khata): production needs the channel set.
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a-test-token")
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "whatsapp:+14155238886")
    runtime.settings.cache_clear()
    try:
        runner = CliRunner()
        res = runner.invoke(main, ["set-credit-limit", "9841000399", "3000"])
        assert res.exit_code == 1 and "below the NPR 4,000" in res.output
        res = runner.invoke(
            main,
            [
                "record-payment",
                "9841000399",
                "1,500",
                "--method",
                "fonepay",
                "--reference",
                "FP-1",
                "--admin",
                "ops@thok.local",
            ],
        )
        assert res.exit_code == 0, res.output
        assert "outstanding now NPR 2,500.00" in res.output
        out = tmp_path / "khata.csv"
        today = date.today().isoformat()
        res = runner.invoke(
            main, ["statement", "+9779841000399", "--from", "2020-01-01", "--to", "2099-12-31", "--out", str(out)]
        )
        assert res.exit_code == 0, res.output
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        assert [x["type"] for x in rows] == ["OPENING", "DEBIT", "CREDIT"]
        assert rows[2]["credit"] == "1500.00" and rows[2]["balance"] == "2500.00"
        assert today[:4] in rows[1]["date"]
    finally:
        runtime.settings.cache_clear()


OPS = st.lists(
    st.tuples(st.sampled_from(["debit", "credit", "pay", "reverse"]), st.integers(min_value=1, max_value=4000)),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_postings_keep_the_books_agreeing(session: Session, ops: list[tuple[str, int]]) -> None:
    nested = session.begin_nested()
    try:
        r = _retailer(session, "10000", phone="9841000388")
        admin = create_admin(session, "h@thok.local", "a-long-password").id
        debits: list[int] = []
        for i, (op, amount) in enumerate(ops):
            try:
                with session.begin_nested():
                    if op == "debit":
                        debits.append(
                            post_debit(
                                session, retailer_id=r, amount=D(amount), idempotency_key=f"d{i}", description="o"
                            ).id
                        )
                    elif op == "credit":
                        post_credit(
                            session, retailer_id=r, amount=D(amount), idempotency_key=f"c{i}", description="fix"
                        )
                    elif op == "pay":
                        record_payment(
                            session,
                            retailer_id=r,
                            amount=D(amount),
                            method="cash",
                            reference=None,
                            recorded_by_admin_id=admin,
                        )
                    elif debits:
                        reverse_entry(session, debits[amount % len(debits)], "return", f"r{i}")
            except (InvalidInput, CreditLimitExceeded):
                pass  # refused cleanly, nothing written
        b = account_balance(session, r)
        assert 0 <= b.outstanding <= b.credit_limit
        assert run_checks(session) == []
    finally:
        nested.rollback()


def test_a_statement_for_an_unknown_retailer_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="no credit account"):
        statement_rows(session, 987654321, date(2026, 4, 1), date(2026, 4, 30))
    fresh = _retailer(session)  # a real retailer with no entries yet: an empty statement, not an error
    assert [(x.entry_type, x.balance) for x in statement_rows(session, fresh, date(2026, 4, 1), date(2026, 4, 30))] == [
        ("OPENING", D("0"))
    ]
