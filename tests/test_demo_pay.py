# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""Paying in the demo (issue 17's done-when): `thok demo` serves a pretend Khalti in the same app
(bot/demo_gateway.py), so a shop can send "pay", open the link, press Pay and see its khata drop
once; Thok's own Khalti client, return route and booking run as against the real sandbox. Served
over real HTTP on loopback: Thok calls the gateway's API over HTTP, which here is itself."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import make_server

from bot.app import create_app
from bot.demo_gateway import DEMO_KHALTI_KEY, PREFIX
from db.models import EntryType, LedgerEntry, Retailer, RetailerPayment
from db.session import Database
from domain.credit import account_balance
from handlers import Sender
from handlers.dispatch import handle_message
from parsing.payment_methods import PaymentMethod
from tests.browser import support
from tests.fake_twilio import fake_twilio, run_worker, signed_headers, thok_settings, twilio_form  # noqa: F401
from thok.config import Settings
from thok.runtime import redis_for
from thok.seed import seed_demo
from workers import context

PATH = "/webhooks/twilio/whatsapp"
_sids = itertools.count(1)


class LiveThok:
    """The app on a loopback port, its public URL that port (so the gateway it calls is itself)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.app: Flask | None = None
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.settings = settings.with_overrides(
            database_url=db.url,
            dev_mode=True,
            demo_gateway=True,
            public_base_url=self.url,
            khalti_secret_key=DEMO_KHALTI_KEY,
            khalti_base_url=f"{self.url}{PREFIX}",
            gateway_timeout_seconds=5.0,
        )
        self.app = create_app(self.settings, db, redis_for(self.settings))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _wsgi(self, environ: Any, start_response: Any) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live(thok_settings: Settings, fresh_database: Database, fake_twilio: Any) -> Iterator[LiveThok]:
    with fresh_database.unit_of_work() as uow:
        seed_demo(uow.session, history=True)  # the demo market with its four weeks of history: shops owe money
        uow.commit()
    thok = LiveThok(thok_settings, fresh_database)
    context.configure(thok.settings)
    try:
        yield thok
    finally:
        context.configure(None)
        thok.stop()


def _owed_most(db: Database) -> tuple[int, str, Decimal]:
    with db.session() as s:
        rows = [(r.id, r.whatsapp_number, account_balance(s, r.id).outstanding) for r in s.scalars(select(Retailer))]
    return max(rows, key=lambda r: r[2])


def _credits(db: Database, retailer_id: int) -> tuple[int, int]:
    with db.session() as s:
        entries = s.scalar(
            select(func.count()).where(
                LedgerEntry.retailer_id == retailer_id, LedgerEntry.entry_type == EntryType.CREDIT
            )
        )
        paid = s.scalar(
            select(func.count()).where(
                RetailerPayment.retailer_id == retailer_id, RetailerPayment.payment_request_id.is_not(None)
            )
        )
        return int(entries or 0), int(paid or 0)


def test_pay_in_the_demo_books_once_and_the_balance_drops(
    live: LiveThok, fresh_database: Database, fake_twilio: Any, redis: Any
) -> None:
    shop_id, phone, owed = _owed_most(fresh_database)
    assert owed > 0

    def send(body: str) -> str:
        """Post as Twilio would, run the worker, return what was sent back to the shop."""
        before = len(fake_twilio.posts())
        form = twilio_form(f"SM{next(_sids):032d}", sender=phone, body=body)
        resp = requests.post(live.url + PATH, data=form, headers=signed_headers(PATH, form, base=live.url), timeout=10)
        assert resp.status_code == 200
        run_worker(redis)
        return "\n".join(
            r.form.get("Body", "") for r in fake_twilio.posts()[before:] if r.form.get("To") == f"whatsapp:{phone}"
        )

    khata = send("hisab")
    assert "Khalti" in khata  # how to pay, now that the demo has a gateway
    links = re.findall(re.escape(live.url) + r"/pay/[0-9a-f]{32}/khalti", send("pay"))
    assert len(links) == 1, links
    credits_before = _credits(fresh_database, shop_id)

    browser = requests.Session()
    to_gateway = browser.get(links[0], allow_redirects=False, timeout=10)
    assert to_gateway.status_code == 303
    page_url = to_gateway.headers["Location"]
    assert page_url.startswith(f"{live.url}{PREFIX}/pay/")
    page = browser.get(page_url, timeout=10)
    assert page.status_code == 200 and "Demo Khalti" in page.text and 'value="pay"' in page.text
    paid = browser.post(
        page_url, data={"action": "pay", "csrf_token": support.csrf_token(page.text)}, allow_redirects=False, timeout=10
    )
    assert paid.status_code == 303 and paid.headers["Location"].startswith(f"{live.url}/pay/khalti/return?pidx=")
    back = browser.get(paid.headers["Location"], timeout=10)
    assert back.status_code == 200 and "Paid: NPR" in back.text

    with fresh_database.session() as s:
        assert account_balance(s, shop_id).outstanding == 0  # "pay" asks for all that is owed
        payment = s.scalars(select(RetailerPayment).where(RetailerPayment.payment_request_id.is_not(None))).one()
        assert (payment.method, payment.amount) == (PaymentMethod.KHALTI, owed)
        assert payment.reference and payment.reference.startswith("DEMO")
    assert _credits(fresh_database, shop_id) == (credits_before[0] + 1, credits_before[1] + 1)

    # Pressing Pay again, reloading the return, tapping the link again: nothing more is booked.
    again = browser.post(
        page_url, data={"action": "pay", "csrf_token": support.csrf_token(page.text)}, allow_redirects=False, timeout=10
    )
    assert again.status_code == 303
    assert browser.get(again.headers["Location"], timeout=10).status_code == 200
    assert browser.get(links[0], allow_redirects=False, timeout=10).status_code == 410
    run_worker(redis)
    assert _credits(fresh_database, shop_id) == (credits_before[0] + 1, credits_before[1] + 1)
    assert "NPR 0" in send("hisab")


def test_demo_gateway_refuses_what_khalti_refuses(live: LiveThok) -> None:
    api = f"{live.url}{PREFIX}/epayment"
    good = {
        "amount": 150000,
        "return_url": f"{live.url}/pay/khalti/return",
        "website_url": live.url,
        "purchase_order_id": "x" * 32,
        "purchase_order_name": "test",
    }
    key = {"Authorization": f"Key {DEMO_KHALTI_KEY}"}
    assert requests.post(f"{api}/initiate/", json=good, timeout=5).status_code == 401
    assert (
        requests.post(f"{api}/initiate/", json=good, headers={"Authorization": "Key wrong"}, timeout=5).status_code
        == 401
    )
    assert requests.post(f"{api}/initiate/", json={**good, "amount": 999}, headers=key, timeout=5).status_code == 400
    assert requests.post(f"{api}/initiate/", data="not json", headers=key, timeout=5).status_code == 400
    assert requests.post(f"{api}/lookup/", json={"pidx": "nope"}, headers=key, timeout=5).status_code == 404
    started = requests.post(f"{api}/initiate/", json=good, headers=key, timeout=5).json()
    looked = requests.post(f"{api}/lookup/", json={"pidx": started["pidx"]}, headers=key, timeout=5).json()
    assert (looked["status"], looked["total_amount"]) == ("Initiated", 150000)
    # Cancel: the payer goes back with "User canceled", and the lookup says so.
    browser = requests.Session()
    page = browser.get(started["payment_url"], timeout=5)
    token = support.csrf_token(page.text)
    gone = browser.post(started["payment_url"], data={"action": "cancel", "csrf_token": token}, allow_redirects=False)
    assert gone.status_code == 303 and "status=User+canceled" in gone.headers["Location"]
    looked = requests.post(f"{api}/lookup/", json={"pidx": started["pidx"]}, headers=key, timeout=5).json()
    assert looked["status"] == "User canceled"
    assert browser.get(f"{live.url}{PREFIX}/pay/unknown", timeout=5).status_code == 404
    assert browser.post(started["payment_url"], data={"action": "x", "csrf_token": token}, timeout=5).status_code == 400


def test_the_demo_gateway_is_never_served_in_production(
    thok_settings: Settings, fresh_database: Database, redis: Any
) -> None:
    settings = thok_settings.with_overrides(demo_gateway=True, khalti_secret_key=DEMO_KHALTI_KEY)
    assert not settings.dev_mode
    client = create_app(settings, fresh_database, redis_for(settings)).test_client()
    assert client.post(f"{PREFIX}/epayment/initiate/", json={}).status_code == 404
    assert client.get(f"{PREFIX}/pay/abc").status_code == 404


def test_hisab_offers_pay_now_and_show_khata_only_where_paying_is_possible(
    live: LiveThok, fresh_database: Database
) -> None:
    shop_id, phone, _ = _owed_most(fresh_database)
    sender = Sender(kind="retailer", phone=phone, id=shop_id, name="shop")

    def choices(settings: Settings) -> list[str]:
        with fresh_database.unit_of_work() as uow:
            [reply] = handle_message(uow.session, sender, "hisab", settings)
            uow.rollback()
        return [c.id for c in reply.choices]

    assert choices(live.settings) == ["pay", "hisab"]
    assert choices(live.settings.with_overrides(khalti_secret_key=None)) == []  # no gateway: no buttons
