"""The khata as Nepali shops keep it (issue 17): Bikram Sambat months, lakh grouping, Devanagari
digits, BS-month statements as CSV and PDF."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from pdfminer.high_level import extract_text
from sqlalchemy.orm import Session

from db.models import Language
from db.session import Database
from domain.calendar import BsMonth, admin_when, bs_date, bs_iso, month_in_text
from domain.errors import InvalidInput
from domain.khata_payments import record_payment
from domain.ledger import post_debit
from domain.money import npr, npr_for, rupees
from domain.parties import create_admin
from domain.statement_csv import write_month_csv
from domain.statement_pdf import render_statements
from domain.statements import month_statement
from handlers import Sender
from handlers.dispatch import handle_message
from handlers.messages import t
from tests import factories
from thok.config import Settings

D = Decimal


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "en", "ne"),
    [
        ("0", "0", "०"),
        ("999", "999", "९९९"),
        ("12500", "12,500", "१२,५००"),
        ("99999", "99,999", "९९,९९९"),
        ("100000", "1,00,000", "१,००,०००"),
        ("123456.50", "1,23,456.50", "१,२३,४५६.५०"),
        ("12345678", "1,23,45,678", "१,२३,४५,६७८"),  # 1 crore 23 lakh
        ("-250000", "-2,50,000", "-२,५०,०००"),
    ],
)
def test_amounts_are_grouped_in_lakhs_and_crores(amount: str, en: str, ne: str) -> None:
    assert npr(amount) == en
    assert npr_for(amount, "en") == en
    assert npr_for(amount, "ne") == ne


def test_rupees_carry_the_currency_in_the_readers_script() -> None:
    assert rupees(D("123456"), "ne") == "रु १,२३,४५६"
    assert rupees(D("123456.5"), "en") == "NPR 1,23,456.50"


# --- the calendar --------------------------------------------------------------------------------


def test_bs_dates_fall_on_the_known_days() -> None:
    # Nepali new year (1 Baisakh) 2082 and 2083 fell on 14 April 2025 and 14 April 2026.
    assert BsMonth(2082, 1).first_day == date(2025, 4, 14)
    assert BsMonth(2083, 1).first_day == date(2026, 4, 14)
    assert BsMonth(2082, 12).last_day == date(2026, 4, 13)
    # 19:00 UTC on 13 April is 00:45 on 14 April in Nepal: the new year already.
    new_year_night = datetime(2026, 4, 13, 19, 0, tzinfo=UTC)
    assert bs_date(new_year_night, "en") == "1 Baisakh 2083"
    assert bs_date(new_year_night, "ne") == "१ बैशाख २०८३"
    assert bs_iso(new_year_night) == "2083-01-01"
    assert admin_when(new_year_night) == "2083-01-01 (2026-04-14) 00:45"
    assert BsMonth(2083, 8).label("ne") == "मंसिर २०८३" and BsMonth(2083, 8).label("en") == "Mangsir 2083"


def test_bs_months_tile_the_gregorian_days() -> None:
    month = BsMonth(2080, 1)
    while month < BsMonth(2086, 1):
        nxt = month.next()
        assert nxt.first_day == month.last_day + timedelta(days=1)
        assert 29 <= (month.last_day - month.first_day).days + 1 <= 32
        assert BsMonth.containing(month.first_day) == month == BsMonth.containing(month.last_day)
        assert nxt.previous() == month
        month = nxt


@pytest.mark.parametrize("raw", ["2083-13", "2083-0", "83-08", "mangsir", "", "1800-01"])
def test_a_bad_month_is_refused_with_the_form_to_use(raw: str) -> None:
    with pytest.raises(InvalidInput):
        BsMonth.parse(raw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hisab mangsir", BsMonth(2083, 8)),
        ("हिसाब कात्तिक", BsMonth(2083, 7)),
        ("mero khata kartik ko", BsMonth(2083, 7)),
        ("hisab magh", BsMonth(2082, 10)),  # Magh has not come yet in Poush 2083: last year's
        ("hisab poush", BsMonth(2083, 9)),  # this month
        ("khata asoj 2081", BsMonth(2081, 6)),
        ("हिसाब मंसिर २०८२", BsMonth(2082, 8)),
        ("hisab", None),
        ("2 bora chamal", None),
    ],
)
def test_the_month_a_message_names(text: str, expected: BsMonth | None) -> None:
    in_poush_2083 = date(2026, 12, 20)
    assert month_in_text(text, in_poush_2083) == expected


# --- hisab on WhatsApp ---------------------------------------------------------------------------


def _shop(session: Session, language: Language | None = None) -> Sender:
    r = factories.retailer(session, name="Krishna", limit=5_00_000)
    r.shop_name = "कृष्ण किराना"
    r.language = language
    session.flush()
    return Sender(kind="retailer", phone=r.whatsapp_number, id=r.id, name=r.name)


def _book(session: Session, retailer_id: int) -> None:
    w = factories.wholesaler(session, name="Ram Traders")
    post_debit(
        session,
        retailer_id=retailer_id,
        amount=D("123456.50"),
        idempotency_key="order:nepal:1",
        description="Order TK-NP01",
        wholesaler_id=w.id,
    )


def test_hisab_in_nepali_has_bs_dates_and_devanagari_lakhs(session: Session, settings: Settings) -> None:
    shop = _shop(session)
    _book(session, shop.id)  # type: ignore[arg-type]
    reply = handle_message(session, shop, "हिसाब", settings)[0].body
    assert "तिर्न बाँकी: रु १,२३,४५६.५०" in reply
    today = BsMonth.current()
    assert bs_date(datetime.now(UTC), "ne") in reply and today.label("ne") in reply
    assert not re.search("[0-9]", reply.replace("TK-NP01", "")), reply  # Thok's digits are Devanagari (not the ref's)
    english = handle_message(session, shop, "hisab", settings)[0].body
    assert "Outstanding: NPR 1,23,456.50" in english and today.label("en") in english


def test_hisab_for_a_bs_month_gives_opening_entries_and_closing(session: Session, settings: Settings) -> None:
    shop = _shop(session)
    _book(session, shop.id)  # type: ignore[arg-type]
    month = BsMonth.current()
    from domain.calendar import MONTHS_EN, MONTHS_NE

    this = handle_message(session, shop, f"hisab {MONTHS_EN[month.month - 1].lower()}", settings)[0].body
    assert f"Your khata for {month.label('en')}:" in this
    assert "Opening balance: NPR 0" in this and "Order TK-NP01" in this
    assert "Closing balance: NPR 1,23,456.50 (1 entries)" in this
    before = month.previous()
    last = handle_message(session, shop, f"हिसाब {MONTHS_NE[before.month - 1]}", settings)[0].body
    assert f"{before.label('ne')} को तपाईंको खाता:" in last
    assert "यो महिना कुनै कारोबार छैन।" in last and "अन्तिम बाँकी: रु ०" in last


# --- statements: CSV and PDF ---------------------------------------------------------------------


def _pdf_text(pdf: bytes) -> str:
    """The PDF's text as a reader copies it, without spaces. Noto picks a width variant of the
    ि matra for each consonant; the variant carries no Unicode of its own, so the extractor shows
    it as (cid:N) next to the ि that is there."""
    return re.sub(r"\(cid:\d+\)|\s", "", extract_text(io.BytesIO(pdf)))


def test_month_statement_pdf_reads_back_in_both_languages(session: Session) -> None:
    shop = _shop(session)
    _book(session, shop.id)  # type: ignore[arg-type]
    admin = create_admin(session, "ops@thok.local", "a-long-password")
    record_payment(
        session,
        retailer_id=shop.id,  # type: ignore[arg-type]
        amount=D("23456.50"),
        method="esewa",
        reference="0ABC12",
        recorded_by_admin_id=admin.id,
    )
    month = BsMonth.current()
    statement = month_statement(session, shop.id, month)  # type: ignore[arg-type]
    assert statement.wholesalers == ("Ram Traders",) and statement.closing == D("100000")
    older = month_statement(session, shop.id, month.previous())  # type: ignore[arg-type]

    nepali = render_statements([statement, older], "ne", lambda k: t(k, "ne"))
    assert nepali.startswith(b"%PDF") and b"NotoSansDevanagari" in nepali  # the font travels with it
    text = _pdf_text(nepali)
    for expected in (
        f"खाताविवरण:{month.label('ne')}",
        "पसल:कृष्णकिराना",
        "थोकविक्रेता:RamTraders",
        "सुरुबाँकी(रु):०",
        "TK-NP01",
        "१,२३,४५६.५०",
        "Payment(Esewaref0ABC12)",
        "२३,४५६.५०",
        "अन्तिमबाँकी(रु):१,००,०००",
        f"खाताविवरण:{month.previous().label('ne')}",
        "योमहिनाकुनैकारोबारछैन।",
    ):
        assert expected.replace(" ", "") in text, expected
    assert text.count("खाताविवरण") == 2

    english = _pdf_text(render_statements([statement], "en", lambda k: t(k, "en")))
    for expected in (
        f"Khatastatement:{month.label('en').replace(' ', '')}",
        "Shop:कृष्णकिराना",
        "Openingbalance(NPR):0",
        "1,23,456.50",
        "Totals1,23,456.5023,456.50",
        "Closingbalance(NPR):1,00,000",
    ):
        assert expected in english, expected
    assert bs_date(datetime.now(UTC), "en").replace(" ", "") in english


def test_month_csv_has_bs_dates_and_escapes_formulas(session: Session) -> None:
    shop = _shop(session)
    post_debit(
        session,
        retailer_id=shop.id,  # type: ignore[arg-type]
        amount=D("500"),
        idempotency_key="order:csv:1",
        description='=HYPERLINK("x")',
    )
    buffer = io.StringIO()
    write_month_csv(month_statement(session, shop.id, BsMonth.current()), buffer)  # type: ignore[arg-type]
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert [r["type"] for r in rows] == ["OPENING", "DEBIT"]
    assert rows[0]["bs date"] == bs_iso(BsMonth.current().first_day) and rows[0]["balance"] == "0.00"
    assert rows[1]["bs date"] == bs_iso(datetime.now(UTC)) and rows[1]["description"].startswith("'=")


def test_cli_statement_by_bs_month_as_csv_and_pdf(
    fresh_database: Database, fresh_database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from thok import runtime
    from thok.cli import main

    with fresh_database.unit_of_work() as uow:
        shop = _shop(uow.session, Language.NE)
        _book(uow.session, shop.id)  # type: ignore[arg-type]
        uow.commit()
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    runtime.settings.cache_clear()
    month = BsMonth.current()
    try:
        runner = CliRunner()
        pdf = tmp_path / "khata.pdf"
        res = runner.invoke(
            main, ["statement", shop.phone, "--month", month.key(), "--format", "pdf", "--out", str(pdf)]
        )
        assert res.exit_code == 0, res.output
        text = _pdf_text(pdf.read_bytes())  # the shop's language: Nepali
        assert f"खाताविवरण:{month.label('ne')}".replace(" ", "") in text and "१,२३,४५६.५०" in text
        res = runner.invoke(main, ["statement", shop.phone, "--month", month.key(), "--format", "pdf", "--lang", "en",
                                   "--out", str(pdf)])  # fmt: skip
        assert res.exit_code == 0 and "1,23,456.50" in _pdf_text(pdf.read_bytes())
        out = tmp_path / "khata.csv"
        res = runner.invoke(main, ["statement", shop.phone, "--month", month.key(), "--out", str(out)])
        assert res.exit_code == 0, res.output
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        assert [r["type"] for r in rows] == ["OPENING", "DEBIT"] and rows[1]["debit"] == "123456.50"
        for bad in (["--month", "2083-13"], ["--month", "2083-08", "--from", "2026-01-01"], ["--format", "pdf"]):
            res = runner.invoke(main, ["statement", shop.phone, *bad])
            assert res.exit_code != 0 and "Traceback" not in res.output, res.output
        res = runner.invoke(main, ["statement", shop.phone, "--month", "2083-13"])
        assert "Bikram Sambat month is 1 to 12" in res.output
    finally:
        runtime.settings.cache_clear()


# --- the dashboard's khata page ------------------------------------------------------------------


def test_dashboard_khata_month_picker_gives_pdf_and_csv(
    fresh_database: Database, settings: Settings, redis_url: str
) -> None:
    from redis import Redis

    from tests.browser import support
    from tests.test_dashboard import login

    support.seed(fresh_database)
    with fresh_database.unit_of_work() as uow:
        shop = _shop(uow.session, Language.NE)
        _book(uow.session, shop.id)  # type: ignore[arg-type]
        uow.commit()
    redis = Redis.from_url(redis_url)
    client = support.build_app(settings, fresh_database, redis, TESTING=True).test_client()
    assert login(client).status_code == 302
    month = BsMonth.current()

    page = client.get(f"/dashboard/retailers/{shop.id}/khata").get_data(as_text=True)
    assert f'<option value="{month.key()}">{month.label("en")} · {month.label("ne")}' in page
    assert f'<option value="{month.previous().key()}">' in page
    assert bs_iso(datetime.now(UTC)) in page and "1,23,456.50" in page  # BS dates, lakh grouping

    pdf = client.get(f"/dashboard/retailers/{shop.id}/statement.pdf?month={month.key()}&lang=ne")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert f"khata-{shop.phone.lstrip('+')}-{month.key()}.pdf" in pdf.headers["Content-Disposition"]
    assert "१,२३,४५६.५०" in _pdf_text(pdf.data) and "कृष्णकिराना" in _pdf_text(pdf.data)
    csv_month = client.get(f"/dashboard/retailers/{shop.id}/statement.csv?month={month.key()}")
    rows = list(csv.DictReader(io.StringIO(csv_month.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["type"] for r in rows] == ["OPENING", "DEBIT"] and rows[1]["bs date"] == bs_iso(datetime.now(UTC))

    for bad in ("month=2083-13", "month=mangsir", "month=2083-08&lang=fr", ""):
        resp = client.get(f"/dashboard/retailers/{shop.id}/statement.pdf?{bad}")
        assert resp.status_code == 400, bad
    assert client.get(f"/dashboard/retailers/999999/statement.pdf?month={month.key()}").status_code == 404
    redis.close()
