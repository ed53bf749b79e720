"""The dashboard through Flask's test client, on a real PostgreSQL and Redis, CSRF on: access rules
(login, rate limits, viewer 403, CSRF), and each admin change with its audit row in the same
transaction (a refused change leaves neither)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from db.models import (
    AdminAuditLog,
    DecisionConflictLog,
    LedgerEntry,
    OutboundMessage,
    OutboundStatus,
    Product,
    Retailer,
    Wholesaler,
    WholesalerProduct,
)
from db.session import Database
from tests.browser import support
from tests.conftest import _create_database, _drop_database, url_with_database
from thok.config import Settings

_phones = itertools.count(200)


@pytest.fixture(scope="module")
def dash_db(pg_admin_url: str, db_prefix: str, template_db: str) -> Iterator[Database]:
    """One seeded database for the module (seeding and argon2 are the slow part); each test
    makes its own rows and asserts on those, so the tests do not depend on each other."""
    name = f"{db_prefix}_dashboard"
    _create_database(pg_admin_url, name, template=template_db)
    db = Database(url_with_database(pg_admin_url, name))
    support.seed(db)
    yield db
    db.dispose()
    _drop_database(pg_admin_url, name)


@pytest.fixture
def app(settings: Settings, dash_db: Database, redis: Redis) -> Flask:
    return support.build_app(settings, dash_db, redis, TESTING=True)


def login(client: FlaskClient, who: tuple[str, str] = support.ADMIN, ip: str = "10.0.0.1") -> Any:
    page = client.get("/dashboard/login")
    token = support.csrf_token(page.get_data(as_text=True))
    return client.post(
        "/dashboard/login",
        data={"email": who[0], "password": who[1], "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
    )


def token_of(client: FlaskClient, path: str = "/dashboard/") -> str:
    return support.csrf_token(client.get(path).get_data(as_text=True))


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert login(client).status_code == 302
    return client


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
    return client.post(path, data={"csrf_token": token_of(client), **(data or {})}, **kw)


def audit_rows(db: Database, action: str, entity_id: object | None = None) -> list[AdminAuditLog]:
    q = select(AdminAuditLog).where(AdminAuditLog.action == action)
    if entity_id is not None:
        q = q.where(AdminAuditLog.entity_id == str(entity_id))
    return support.detached(db, q.order_by(AdminAuditLog.id))


def new_phone() -> str:
    return f"98412{next(_phones):05d}"


# --- access --------------------------------------------------------------------------------------


def test_every_page_needs_a_signed_in_admin(app: Flask) -> None:
    client = app.test_client()
    for path in ("/dashboard/", "/dashboard/orders", "/dashboard/retailers", "/dashboard/audit"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/dashboard/login" in resp.headers["Location"], path
    assert client.post("/dashboard/retailers/new", data={"name": "x"}).status_code == 400  # no CSRF token


def test_sign_in_sets_a_hardened_session_and_is_audited(app: Flask, dash_db: Database) -> None:
    client = app.test_client()
    resp = login(client, ip="10.9.9.9")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/dashboard/")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    page = client.get("/dashboard/")
    assert page.status_code == 200 and b"Orders today" in page.data and b"<svg" in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    [row] = [r for r in audit_rows(dash_db, "admin.login") if r.ip_address == "10.9.9.9"]
    assert row.entity_type == "admin"
    assert post(client, "/dashboard/logout").status_code == 302
    assert client.get("/dashboard/").status_code == 302  # signed out


def test_wrong_password_is_refused_and_next_cannot_leave_the_site(app: Flask) -> None:
    client = app.test_client()
    resp = login(client, (support.ADMIN[0], "wrong-password"))
    assert resp.status_code == 401 and b"Wrong email or password" in resp.data
    token = token_of(client, "/dashboard/login")
    resp = client.post(
        "/dashboard/login",
        data={
            "email": support.ADMIN[0],
            "password": support.ADMIN[1],
            "csrf_token": token,
            "next": "https://evil.example/",
        },
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/dashboard/"


def test_five_failures_lock_that_client_out_of_that_account_not_the_admin(app: Flask, redis: Redis) -> None:
    """Before: the account itself was locked, so anyone who knew an admin's email could keep them
    out of the dashboard."""
    client = app.test_client()
    for _ in range(5):
        assert login(client, (support.ADMIN[0], "not-the-password"), ip="10.1.1.1").status_code == 401
    resp = login(client, support.ADMIN, ip="10.1.1.1")  # even the right password, from that client
    assert resp.status_code == 429
    assert b"try again in 15 minutes" in resp.data
    assert login(app.test_client(), support.ADMIN, ip="10.1.1.2").status_code == 302  # the admin, elsewhere
    assert not redis.keys("thok:login:account:*")


def test_one_address_trying_many_accounts_is_locked(app: Flask) -> None:
    client = app.test_client()
    for i in range(20):
        login(client, (f"nobody{i}@thok.local", "guess-guess-guess"), ip="10.2.2.2")
    resp = login(client, support.ADMIN, ip="10.2.2.2")
    assert resp.status_code == 429 and b"Too many sign-in attempts" in resp.data
    assert login(app.test_client(), support.ADMIN, ip="10.2.2.3").status_code == 302  # others are not


def test_a_form_without_its_csrf_token_is_refused(admin: FlaskClient, dash_db: Database) -> None:
    phone = new_phone()
    resp = admin.post("/dashboard/retailers/new", data={"name": "No Token", "phone": phone})
    assert resp.status_code == 400 and b"did not come from this site" in resp.data
    resp = admin.post("/dashboard/retailers/new", data={"name": "Bad Token", "phone": phone, "csrf_token": "forged"})
    assert resp.status_code == 400
    with dash_db.session() as s:
        assert s.scalar(select(func.count()).where(Retailer.name.in_(["No Token", "Bad Token"]))) == 0


def test_a_viewer_reads_everything_and_changes_nothing(app: Flask, dash_db: Database) -> None:
    client = app.test_client()
    assert login(client, support.VIEWER).status_code == 302
    for path in (
        "/dashboard/",
        "/dashboard/orders",
        "/dashboard/retailers",
        "/dashboard/wholesalers",
        "/dashboard/audit",
        "/dashboard/messages",
    ):
        assert client.get(path).status_code == 200, path
    page = client.get("/dashboard/retailers/new")
    assert page.status_code == 200  # the form may be looked at; posting it is refused
    resp = post(client, "/dashboard/retailers/new", {"name": "Viewer Made", "phone": new_phone()})
    assert resp.status_code == 403 and b"read-only" in resp.data
    with dash_db.session() as s:
        assert s.scalar(select(func.count()).where(Retailer.name == "Viewer Made")) == 0
    assert b"Record payment" not in client.get("/dashboard/retailers/1/khata").data


# --- retailers, wholesalers, credit --------------------------------------------------------------


def test_creating_a_retailer_is_audited_and_a_refused_one_leaves_nothing(admin: FlaskClient, dash_db: Database) -> None:
    phone = new_phone()
    resp = post(
        admin,
        "/dashboard/retailers/new",
        {
            "name": "Gopal Thapa",
            "display_name": "Gopal Pasal",
            "phone": phone,
            "district": "Bhaktapur",
            "language": "ne",
            "credit_limit": "20000",
        },
    )
    assert resp.status_code == 303
    with dash_db.session() as s:
        retailer = s.scalars(select(Retailer).where(Retailer.whatsapp_number == "+977" + phone)).one()
        assert retailer.credit_account is not None and retailer.credit_account.credit_limit == Decimal(20000)
        s.expunge_all()
    [row] = audit_rows(dash_db, "retailer.create", retailer.id)
    assert row.after["shop_name"] == "Gopal Pasal" and row.ip_address == "127.0.0.1"

    before = len(audit_rows(dash_db, "retailer.create"))
    resp = post(admin, "/dashboard/retailers/new", {"name": "Copy Cat", "phone": phone})
    assert resp.status_code == 400 and b"already registered" in resp.data
    resp = post(admin, "/dashboard/retailers/new", {"name": "Bad Limit", "phone": new_phone(), "credit_limit": "-5"})
    assert resp.status_code == 400 and b"credit limit must be more than zero" in resp.data
    assert len(audit_rows(dash_db, "retailer.create")) == before


def test_edit_remove_and_restore_a_wholesaler(admin: FlaskClient, dash_db: Database) -> None:
    phone = new_phone()
    assert post(admin, "/dashboard/wholesalers/new", {"name": "Binod", "phone": phone}).status_code == 303
    with dash_db.session() as s:
        wid = s.scalars(select(Wholesaler.id).where(Wholesaler.whatsapp_number == "+977" + phone)).one()
    resp = post(
        admin,
        f"/dashboard/wholesalers/{wid}/edit",
        {"name": "Binod KC", "display_name": "KC Traders", "phone": phone, "is_active_present": "1"},
    )
    assert resp.status_code == 303
    [edit] = audit_rows(dash_db, "wholesaler.update", wid)
    assert edit.before["name"] == "Binod" and edit.after["business_name"] == "KC Traders"
    assert edit.after["is_active"] is False  # the box was not ticked

    assert post(admin, f"/dashboard/wholesalers/{wid}/delete").status_code == 303
    shown = '<span class="muted">KC Traders</span>'
    assert shown not in admin.get("/dashboard/wholesalers?q=KC+Traders").get_data(as_text=True)
    assert shown in admin.get("/dashboard/wholesalers?deleted=1&q=KC").get_data(as_text=True)
    assert post(admin, f"/dashboard/wholesalers/{wid}/restore").status_code == 303
    assert shown in admin.get(f"/dashboard/wholesalers?q={phone[-6:]}").get_data(as_text=True)
    assert [
        r.action for r in audit_rows(dash_db, "wholesaler.delete", wid) + audit_rows(dash_db, "wholesaler.restore", wid)
    ] == ["wholesaler.delete", "wholesaler.restore"]


def test_a_credit_limit_below_what_is_owed_is_refused_without_an_audit_row(
    admin: FlaskClient, dash_db: Database, settings: Settings
) -> None:
    support.place_demo_order(dash_db, settings, "confirmed")  # the demo retailer now owes
    with dash_db.session() as s:
        rid = s.scalars(select(Retailer.id).where(Retailer.whatsapp_number == support.RETAILER_PHONE)).one()
    before = len(audit_rows(dash_db, "credit.set_limit", rid))
    resp = post(admin, f"/dashboard/retailers/{rid}/credit-limit", {"credit_limit": "1"}, follow_redirects=True)
    assert b"already owed and held" in resp.data
    assert len(audit_rows(dash_db, "credit.set_limit", rid)) == before
    resp = post(admin, f"/dashboard/retailers/{rid}/credit-limit", {"credit_limit": "60,000"}, follow_redirects=True)
    assert b"Credit limit saved" in resp.data
    last = audit_rows(dash_db, "credit.set_limit", rid)[-1]
    assert last.after == {"credit_limit": "60000.00"}


# --- catalog -------------------------------------------------------------------------------------


def _demo_wholesaler(db: Database) -> int:
    with db.session() as s:
        return s.scalars(select(Wholesaler.id).where(Wholesaler.whatsapp_number == "+9779851000001")).one()


def _price_of(db: Database, wholesaler_id: int, sku: str) -> WholesalerProduct | None:
    rows = support.detached(
        db,
        select(WholesalerProduct)
        .join(Product)
        .where(WholesalerProduct.wholesaler_id == wholesaler_id, Product.sku == sku),
    )
    return rows[0] if rows else None


def test_a_price_list_with_a_bad_line_changes_nothing_and_names_the_line(admin: FlaskClient, dash_db: Database) -> None:
    wid = _demo_wholesaler(dash_db)
    before = _price_of(dash_db, wid, "RICE-BASMATI")
    csv_text = "sku,price,stock\nRICE-BASMATI,9999,50\nNO-SUCH-SKU,10,5\nRICE-SONA,abc,5\n"
    resp = post(
        admin,
        f"/dashboard/wholesalers/{wid}/prices",
        {"file": (io.BytesIO(csv_text.encode()), "prices.csv")},
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "line 3: unknown sku" in html and "line 4: price" in html and "nothing was imported" in html
    after = _price_of(dash_db, wid, "RICE-BASMATI")
    assert (after.price if after else None) == (before.price if before else None)
    empty = post(
        admin,
        f"/dashboard/wholesalers/{wid}/prices",
        {"file": (io.BytesIO(b""), "empty.csv")},
        content_type="multipart/form-data",
    )
    assert empty.status_code == 400 and b"the file is empty" in empty.data
    assert not audit_rows(dash_db, "catalog.import_prices", wid)

    good = "sku,price,stock\nRICE-BASMATI,4321,77\n"
    resp = post(
        admin,
        f"/dashboard/wholesalers/{wid}/prices",
        {"file": (io.BytesIO(good.encode()), "good.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    row = _price_of(dash_db, wid, "RICE-BASMATI")
    assert row is not None and row.price == Decimal("4321.00") and row.stock == Decimal(77)
    [audit] = audit_rows(dash_db, "catalog.import_prices", wid)
    assert audit.after["rows"] == 1 and audit.after["file"] == "good.csv"


def test_inline_price_edit_checks_like_the_csv(admin: FlaskClient, dash_db: Database) -> None:
    wid = _demo_wholesaler(dash_db)
    row = _price_of(dash_db, wid, "RICE-MOTA")
    assert row is not None
    path = f"/dashboard/wholesalers/{wid}/catalog/{row.id}"
    resp = post(admin, path, {"price": "12.345", "stock": "5", "is_available": "on"}, follow_redirects=True)
    assert b"more than 2 decimal places" in resp.data
    assert not audit_rows(dash_db, "catalog.update_price", row.id)
    post(admin, path, {"price": "1800", "stock": "12.5"})
    changed = _price_of(dash_db, wid, "RICE-MOTA")
    assert changed is not None and changed.price == Decimal(1800) and changed.is_available is False
    [audit] = audit_rows(dash_db, "catalog.update_price", row.id)
    assert audit.before["price"] == str(row.price) and audit.after["stock"] == "12.5"


# --- khata ---------------------------------------------------------------------------------------


def test_recording_a_payment_books_the_ledger_and_the_audit_together(
    admin: FlaskClient, dash_db: Database, settings: Settings
) -> None:
    support.place_demo_order(dash_db, settings, "confirmed")
    with dash_db.session() as s:
        rid = s.scalars(select(Retailer.id).where(Retailer.whatsapp_number == support.RETAILER_PHONE)).one()
        owed = s.scalars(
            select(LedgerEntry.balance_after).where(LedgerEntry.retailer_id == rid).order_by(LedgerEntry.id.desc())
        ).first()
    assert owed and owed > 100
    path = f"/dashboard/retailers/{rid}/payments"
    too_much = post(admin, path, {"amount": str(owed + 1), "method": "cash"}, follow_redirects=True)
    assert b"more than the NPR" in too_much.data
    refused_audits = len(audit_rows(dash_db, "payment.record", rid))
    resp = post(
        admin, path, {"amount": "100", "method": "esewa", "reference": f"ES-{next(_phones)}"}, follow_redirects=True
    )
    assert b"Payment recorded: NPR 100" in resp.data
    page = admin.get(f"/dashboard/retailers/{rid}/khata").get_data(as_text=True)
    assert "Payment (Esewa ref ES-" in page
    audits = audit_rows(dash_db, "payment.record", rid)
    assert len(audits) == refused_audits + 1
    with dash_db.session() as s:
        entry = s.get(LedgerEntry, audits[-1].after["entry_id"])
        assert entry is not None and entry.amount == Decimal(100) and entry.balance_after == owed - 100

    statement = admin.get(f"/dashboard/retailers/{rid}/statement.csv")
    assert statement.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(statement.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["date", "type", "description", "order ref", "debit", "credit", "balance"]
    assert any(r[1] == "CREDIT" and r[5] == "100.00" for r in rows)


# --- orders --------------------------------------------------------------------------------------


def test_cancel_tells_the_parties_and_is_audited(admin: FlaskClient, dash_db: Database, settings: Settings) -> None:
    order_id, ref = support.place_demo_order(dash_db, settings, "selected")
    winner = support.winner_offer(dash_db, order_id)
    assert winner is not None
    refused = post(admin, f"/dashboard/orders/{order_id}/cancel", {"reason": "  "}, follow_redirects=True)
    assert b"say why the order is cancelled" in refused.data
    resp = post(admin, f"/dashboard/orders/{order_id}/cancel", {"reason": "retailer phoned"}, follow_redirects=True)
    assert b"Order cancelled" in resp.data
    assert support.order_status(dash_db, order_id) == "CANCELLED"
    [audit] = audit_rows(dash_db, "order.cancel", order_id)
    assert audit.before["status"] == "WHOLESALER_SELECTED" and audit.after["status"] == "CANCELLED"
    told = support.detached(dash_db, select(OutboundMessage).where(OutboundMessage.order_id == order_id))
    assert any(m.wholesaler_id == winner.wholesaler_id for m in told)  # the notice went to the outbox
    again = post(admin, f"/dashboard/orders/{order_id}/cancel", {"reason": "twice"}, follow_redirects=True)
    assert b"cannot become CANCELLED" in again.data
    assert len(audit_rows(dash_db, "order.cancel", order_id)) == 1


def test_override_goes_through_the_decision_rules_and_logs_conflicts(
    admin: FlaskClient, dash_db: Database, settings: Settings
) -> None:
    order_id, _ = support.place_demo_order(dash_db, settings, "open")
    offers = support.offers_of(dash_db, order_id)
    chosen = offers[-1]
    resp = post(admin, f"/dashboard/orders/{order_id}/override", {"offer_id": chosen.id}, follow_redirects=True)
    assert f"Offer {chosen.id} won".encode() in resp.data
    winner = support.winner_offer(dash_db, order_id)
    assert winner is not None and winner.id == chosen.id and winner.score_breakdown
    assert support.order_status(dash_db, order_id) == "WHOLESALER_SELECTED"

    other = offers[0]
    resp = post(admin, f"/dashboard/orders/{order_id}/override", {"offer_id": other.id}, follow_redirects=True)
    assert b"already decided" in resp.data
    [conflict] = support.detached(dash_db, select(DecisionConflictLog).where(DecisionConflictLog.order_id == order_id))
    assert conflict.source.startswith("admin:") and conflict.attempted_wholesaler_id == other.wholesaler_id
    outcomes = [a.after["outcome"] for a in audit_rows(dash_db, "order.override_winner", order_id)]
    assert outcomes == ["won", "conflict"]
    detail = admin.get(f"/dashboard/orders/{order_id}").get_data(as_text=True)
    assert "already WHOLESALER_SELECTED" in detail and "price" in detail and "Jeera" in detail


def test_dispatch_then_deliver(admin: FlaskClient, dash_db: Database, settings: Settings) -> None:
    order_id, _ = support.place_demo_order(dash_db, settings, "confirmed")
    bad = post(admin, f"/dashboard/orders/{order_id}/advance", {"to": "DELIVERED"}, follow_redirects=True)
    assert b"cannot become DELIVERED" in bad.data
    post(admin, f"/dashboard/orders/{order_id}/advance", {"to": "DISPATCHED"})
    post(admin, f"/dashboard/orders/{order_id}/advance", {"to": "DELIVERED"})
    assert support.order_status(dash_db, order_id) == "DELIVERED"
    assert [a.action for a in audit_rows(dash_db, "order.mark_dispatched", order_id)] == ["order.mark_dispatched"]
    assert len(audit_rows(dash_db, "order.mark_delivered", order_id)) == 1


def test_order_list_filters_and_bad_filters(admin: FlaskClient, dash_db: Database, settings: Settings) -> None:
    order_id, ref = support.place_demo_order(dash_db, settings, "open")
    listed = admin.get("/dashboard/orders?status=PENDING_OFFERS").get_data(as_text=True)
    assert ref in listed
    assert ref not in admin.get("/dashboard/orders?status=DELIVERED").get_data(as_text=True)
    assert ref in admin.get(f"/dashboard/orders?ref={ref.lower()}").get_data(as_text=True)
    bad = admin.get("/dashboard/orders?from=yesterday")  # refused at the edge (dashboard/validation.py)
    assert bad.status_code == 400 and b"from &#39;yesterday&#39; is not a date" in bad.data
    assert admin.get("/dashboard/orders/999999999").status_code == 404
    assert admin.get("/dashboard/orders?after=garbage").status_code == 400


# --- messages ------------------------------------------------------------------------------------


def test_retrying_a_failed_message_puts_it_back_in_the_outbox(
    admin: FlaskClient, dash_db: Database, redis: Redis
) -> None:
    with dash_db.unit_of_work() as uow:
        row = OutboundMessage(
            to_number="+9779841000101",
            body="failed hello",
            status=OutboundStatus.FAILED,
            idempotency_key=f"test:failed:{next(_phones)}",
            attempts=10,
            error_code="63016",
            error_message="outside the window",
            provider_sid=f"SM{next(_phones):032d}",
        )
        uow.session.add(row)
        uow.commit()
    assert b"failed hello" in admin.get("/dashboard/messages").data
    resp = post(admin, f"/dashboard/messages/{row.id}/retry", follow_redirects=True)
    assert b"queued to send again" in resp.data
    with dash_db.session() as s:
        again = s.get(OutboundMessage, row.id)
        assert again is not None and again.status is OutboundStatus.PENDING and again.attempts == 0
        assert again.provider_sid is None
    assert f"send-{row.id}".encode() in redis.lrange("rq:queue:outbound", 0, -1)
    [audit] = audit_rows(dash_db, "message.retry", row.id)
    assert audit.before["status"] == "FAILED" and audit.after["status"] == "PENDING"
    twice = post(admin, f"/dashboard/messages/{row.id}/retry", follow_redirects=True)
    assert b"not failed; nothing to retry" in twice.data


def test_a_failed_job_can_be_retried(admin: FlaskClient, dash_db: Database, redis: Redis) -> None:
    queue = Queue("default", connection=redis)
    job = queue.enqueue("builtins.int", "not a number", job_id="test-failing-job")
    SimpleWorker([queue], connection=redis).work(burst=True)
    assert job.id in FailedJobRegistry("default", connection=redis).get_job_ids()
    page = admin.get("/dashboard/messages").get_data(as_text=True)
    assert "test-failing-job" in page and "ValueError" in page
    resp = post(admin, "/dashboard/jobs/default/test-failing-job/retry", follow_redirects=True)
    assert b"queued again" in resp.data
    assert job.id not in FailedJobRegistry("default", connection=redis).get_job_ids()
    assert job.id in queue.get_job_ids()
    [audit] = audit_rows(dash_db, "job.retry", "test-failing-job")
    assert audit.after["queue"] == "default"
