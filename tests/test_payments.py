"""Paying the khata from the chat (issue 17): "pay" sends Khalti and eSewa links; a gateway's
confirmation books exactly one CREDIT; anything else books nothing and says so. Against fake
gateways on loopback (tests/fake_gateways.py) that answer as the documented APIs do."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from urllib.parse import urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import func, select

from db.models import EntryType, LedgerEntry, OutboundMessage, PaymentRequest, RetailerPayment
from db.session import Database
from domain.credit import account_balance
from domain.ledger import post_debit
from handlers import Sender
from handlers.dispatch import handle_message
from parsing.payment_methods import PaymentMethod
from tests import factories
from tests.browser import support
from tests.fake_gateways import ESEWA_KEY, ESEWA_PRODUCT, KHALTI_KEY, FakeEsewa, FakeKhalti
from thok.config import Settings
from workers import context, effects
from workers.payments import check_payment_requests

D = Decimal
LINK = re.compile(r"http://thok\.test(/pay/[0-9a-f]{32}/(khalti|esewa))")


@pytest.fixture
def khalti_server() -> Iterator[FakeKhalti]:
    fake = FakeKhalti().start()
    yield fake
    fake.stop()


@pytest.fixture
def esewa_server() -> Iterator[FakeEsewa]:
    fake = FakeEsewa().start()
    yield fake
    fake.stop()


@dataclass
class Shop:
    db: Database
    settings: Settings
    client: FlaskClient
    sender: Sender
    wholesaler_phone: str

    def say(self, text: str) -> str:
        with self.db.unit_of_work() as uow:
            replies = handle_message(uow.session, self.sender, text, self.settings)
            done = effects.collect(uow.session)
            uow.commit()
        assert done is not None
        return "\n".join(r.body for r in replies)

    def link(self, gateway: str, text: str = "pay") -> str:
        found = dict((g, path) for path, g in LINK.findall(self.say(text)))
        assert gateway in found, found
        return found[gateway]

    def outstanding(self) -> Decimal:
        with self.db.session() as s:
            return account_balance(s, self.sender.id).outstanding  # type: ignore[arg-type]

    def credits(self) -> int:
        with self.db.session() as s:
            return (
                s.scalar(
                    select(func.count()).where(
                        LedgerEntry.retailer_id == self.sender.id, LedgerEntry.entry_type == EntryType.CREDIT
                    )
                )
                or 0
            )

    def request(self) -> PaymentRequest:
        with self.db.session() as s:
            found = s.scalars(select(PaymentRequest).order_by(PaymentRequest.id.desc())).first()
            assert found is not None
            s.expunge(found)
            return found

    def notices(self, key: str) -> list[OutboundMessage]:
        with self.db.session() as s:
            rows = s.scalars(
                select(OutboundMessage).where(OutboundMessage.idempotency_key.like(f"notice:payment-request:%:{key}"))
            ).all()
            s.expunge_all()
            return list(rows)

    def run_job(self, now: datetime | None = None) -> dict[str, int]:
        context.configure(self.settings)
        try:
            return check_payment_requests(now)
        finally:
            context.configure(None)


def _gateway_settings(settings: Settings, khalti: FakeKhalti, esewa: FakeEsewa, db: Database) -> Settings:
    return settings.with_overrides(
        database_url=db.url,
        khalti_secret_key=KHALTI_KEY,
        khalti_base_url=khalti.url,
        esewa_product_code=ESEWA_PRODUCT,
        esewa_secret_key=ESEWA_KEY,
        esewa_form_url=f"{esewa.url}/api/epay/main/v2/form",
        esewa_status_url=f"{esewa.url}/api/epay/transaction/status/",
        gateway_timeout_seconds=0.5,
    )


def _shop(db: Database, settings: Settings, redis: Redis, owed: str = "1500") -> Shop:
    with db.unit_of_work() as uow:
        r = factories.retailer(uow.session, name="Krishna", limit=1_00_000)
        w = factories.wholesaler(uow.session, name="Ram Traders")
        post_debit(
            uow.session,
            retailer_id=r.id,
            amount=D(owed),
            idempotency_key=f"order:pay:{r.id}",
            description="Order TK-PAY1",
            wholesaler_id=w.id,
        )
        sender = Sender(kind="retailer", phone=r.whatsapp_number, id=r.id, name=r.name)
        wholesaler_phone = w.whatsapp_number
        uow.commit()
    client = support.build_app(settings, db, redis, TESTING=True).test_client()
    return Shop(db, settings, client, sender, wholesaler_phone)


@pytest.fixture
def shop(
    fresh_database: Database, settings: Settings, redis: Redis, khalti_server: FakeKhalti, esewa_server: FakeEsewa
) -> Shop:
    return _shop(fresh_database, _gateway_settings(settings, khalti_server, esewa_server, fresh_database), redis)


def _to_khalti(shop: Shop, fake: FakeKhalti) -> str:
    """Tap the Khalti link; returns the pidx Khalti gave."""
    resp = shop.client.get(shop.link("khalti"))
    assert resp.status_code == 303 and resp.location.startswith(f"{fake.url}/pay/?pidx=")
    return resp.location.split("pidx=")[1]


def _back_from_khalti(shop: Shop, location: str) -> tuple[int, str]:
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == "http://thok.test"
    resp = shop.client.get(f"{parts.path}?{parts.query}")
    return resp.status_code, resp.get_data(as_text=True)


# --- Khalti --------------------------------------------------------------------------------------


def test_khalti_payment_books_one_credit_and_tells_both(shop: Shop, khalti_server: FakeKhalti) -> None:
    reply = shop.say("pay")
    assert "Pay NPR 1,500 of your khata to Ram Traders:" in reply and "Khalti: http://thok.test/pay/" in reply
    assert "eSewa: http://thok.test/pay/" in reply
    pidx = _to_khalti(shop, khalti_server)
    [(_, _, sent)] = [r for r in khalti_server.requests if r[1] == "/epayment/initiate/"]
    request = shop.request()
    assert '"amount": 150000' in sent and f'"purchase_order_id": "{request.token}"' in sent  # paisa
    assert '"return_url": "http://thok.test/pay/khalti/return"' in sent

    paid = requests.get(f"{khalti_server.url}/pay/?pidx={pidx}", allow_redirects=False, timeout=5)  # the payer pays
    status, page = _back_from_khalti(shop, paid.headers["Location"])
    assert status == 200 and "Paid: NPR 1,500" in page
    assert shop.credits() == 1 and shop.outstanding() == 0
    with shop.db.session() as s:
        payment = s.scalars(select(RetailerPayment).where(RetailerPayment.payment_request_id == request.id)).one()
        assert (payment.method, payment.reference, payment.amount) == (PaymentMethod.KHALTI, f"TXN-{pidx[:8]}", D(1500))
    assert shop.request().status == "COMPLETED"
    [told] = shop.notices("payment_link_paid")
    assert told.to_number == shop.sender.phone and "NPR 0 owed" in told.body
    [wholesaler_told] = shop.notices("w")
    assert (
        wholesaler_told.to_number == shop.wholesaler_phone and "paid NPR 1,500 through Khalti" in wholesaler_told.body
    )

    # The same return again (a reload), the lookup job, the link tapped again: nothing more is booked.
    assert _back_from_khalti(shop, paid.headers["Location"])[0] == 200
    assert shop.run_job(datetime.now(UTC) + timedelta(minutes=5)) == {}
    assert shop.client.get(f"/pay/{request.token}/khalti").status_code == 410  # paid: the link is closed
    assert shop.credits() == 1 and shop.outstanding() == 0


def test_pending_then_completed_is_booked_by_the_lookup_job(shop: Shop, khalti_server: FakeKhalti) -> None:
    pidx = _to_khalti(shop, khalti_server)
    khalti_server.statuses[pidx] = ["Pending", "Completed"]
    status = shop.client.get(f"/pay/khalti/return?pidx={pidx}&status=Completed").status_code
    assert status == 202  # the return says Completed; the lookup says Pending: the lookup wins
    assert shop.credits() == 0 and shop.request().status == "OPEN"
    assert shop.run_job(datetime.now(UTC) + timedelta(minutes=2)) == {"COMPLETED": 1}
    assert shop.credits() == 1 and shop.outstanding() == 0


def test_a_return_that_lies_books_nothing(shop: Shop, khalti_server: FakeKhalti) -> None:
    pidx = _to_khalti(shop, khalti_server)  # the payer never pays, but forges the return
    resp = shop.client.get(f"/pay/khalti/return?pidx={pidx}&status=Completed&transaction_id=FAKE&amount=150000")
    assert resp.status_code == 202 and shop.credits() == 0
    assert shop.client.get("/pay/khalti/return?pidx=unknown-pidx&status=Completed").status_code == 404
    assert shop.credits() == 0


def test_cancelled_payment_books_nothing_and_says_so(shop: Shop, khalti_server: FakeKhalti) -> None:
    pidx = _to_khalti(shop, khalti_server)
    khalti_server.statuses[pidx] = ["User canceled"]
    resp = shop.client.get(f"/pay/khalti/return?pidx={pidx}&status=User canceled")
    assert resp.status_code == 200 and "The payment was not completed" in resp.get_data(as_text=True)
    request = shop.request()
    assert request.status == "CANCELLED" and request.gateway_status == "User canceled"
    assert shop.credits() == 0 and shop.outstanding() == D(1500)
    [told] = shop.notices("payment_not_done")
    assert "was not completed (User canceled)" in told.body
    assert shop.client.get(f"/pay/{request.token}/khalti").status_code == 410  # closed


def test_expired_links_book_nothing(shop: Shop, khalti_server: FakeKhalti) -> None:
    pidx = _to_khalti(shop, khalti_server)
    khalti_server.statuses[pidx] = ["Expired"]
    assert shop.run_job(datetime.now(UTC) + timedelta(minutes=2)) == {"EXPIRED": 1}
    assert shop.request().status == "EXPIRED" and shop.credits() == 0

    shop.say("pay 500")  # never opened: expired by the job once its day is over
    untouched = shop.request()
    assert untouched.amount == D(500) and untouched.gateway is None
    assert shop.run_job(datetime.now(UTC) + timedelta(hours=1)) == {}  # not yet due
    assert shop.run_job(untouched.expires_at + timedelta(minutes=16)) == {"EXPIRED": 1}
    assert shop.request().status == "EXPIRED" and shop.credits() == 0
    assert len(shop.notices("payment_not_done")) == 2


def test_a_different_amount_is_not_booked(shop: Shop, khalti_server: FakeKhalti) -> None:
    pidx = _to_khalti(shop, khalti_server)
    khalti_server.paid_amount[pidx] = D(1000)
    khalti_server.complete(pidx)
    resp = shop.client.get(f"/pay/khalti/return?pidx={pidx}")
    assert "does not match" in resp.get_data(as_text=True)
    request = shop.request()
    assert request.status == "REVIEW" and "1000" in (request.note or "")
    assert shop.credits() == 0 and shop.outstanding() == D(1500)
    assert len(shop.notices("payment_review")) == 1
    support.seed(shop.db)
    from tests.test_dashboard import login

    assert login(shop.client).status_code == 302
    page = shop.client.get(f"/dashboard/retailers/{shop.sender.id}/khata").get_data(as_text=True)
    assert f"#{request.id}" in page and "<strong>needs a person</strong>: the gateway says NPR 1000" in page


def test_redirect_job_and_retry_at_once_book_one_credit(shop: Shop, khalti_server: FakeKhalti) -> None:
    pidx = _to_khalti(shop, khalti_server)
    khalti_server.complete(pidx)
    later = datetime.now(UTC) + timedelta(minutes=2)
    statuses: list[object] = []
    start = threading.Barrier(4)

    def redirect() -> None:
        client = shop.client.application.test_client()
        start.wait()
        statuses.append(client.get(f"/pay/khalti/return?pidx={pidx}").status_code)

    def job() -> None:
        start.wait()
        statuses.append(check_payment_requests(later))

    context.configure(shop.settings)
    try:
        threads = [threading.Thread(target=t) for t in (redirect, redirect, redirect, job)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        context.configure(None)
    assert statuses.count(200) == 3, statuses
    assert shop.credits() == 1 and shop.outstanding() == 0
    with shop.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RetailerPayment)) == 1
    assert len(shop.notices("payment_link_paid")) == 1


def test_a_silent_gateway_leaves_the_request_open(shop: Shop, khalti_server: FakeKhalti) -> None:
    khalti_server.slow = True
    resp = shop.client.get(shop.link("khalti"))
    assert resp.status_code == 503 and "Khalti is not answering" in resp.get_data(as_text=True)
    assert shop.request().gateway is None  # nothing was started: the tap can be tried again
    khalti_server.slow = False
    pidx = _to_khalti(shop, khalti_server)
    khalti_server.complete(pidx)
    khalti_server.slow = True
    past_due = shop.request().expires_at + timedelta(hours=1)
    assert shop.run_job(past_due) == {"OPEN": 1}  # no answer is not "unpaid": never expired on silence
    assert shop.request().status == "OPEN" and shop.credits() == 0
    khalti_server.slow = False
    assert shop.run_job(past_due) == {"COMPLETED": 1}
    assert shop.credits() == 1


# --- eSewa ---------------------------------------------------------------------------------------


def _esewa_form(shop: Shop, fake: FakeEsewa) -> dict[str, str]:
    resp = shop.client.get(shop.link("esewa"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and f'action="{fake.url}/api/epay/main/v2/form"' in html
    assert f"form-action {fake.url}" in resp.headers["Content-Security-Policy"]
    return {m[0]: unescape(m[1]) for m in re.findall(r'name="([a-z_]+)" value="([^"]*)"', html)}


def test_esewa_payment_checks_the_signature_and_the_status_api(shop: Shop, esewa_server: FakeEsewa) -> None:
    form = _esewa_form(shop, esewa_server)
    assert form["total_amount"] == "1500" and form["product_code"] == ESEWA_PRODUCT
    # The browser posts the signed form to eSewa (the fake checks our signature) and comes back.
    posted = requests.post(form_url := f"{esewa_server.url}/api/epay/main/v2/form", data=form, allow_redirects=False,
                           timeout=5)  # fmt: skip
    assert posted.status_code == 302, (form_url, posted.text)
    back = urlsplit(posted.headers["Location"])
    assert back.path == "/pay/esewa/success"
    uuid = form["transaction_uuid"]

    tampered = esewa_server.success_data(uuid, total_amount="15.0")  # changed after signing
    assert shop.client.get(f"/pay/esewa/success?data={tampered}").status_code == 400
    forged = esewa_server.success_data(uuid, key="not-our-key")
    assert shop.client.get(f"/pay/esewa/success?data={forged}").status_code == 400
    assert shop.client.get("/pay/esewa/success?data=not-base64!").status_code == 400
    assert shop.credits() == 0 and shop.request().status == "OPEN"

    esewa_server.statuses[uuid] = ["PENDING", "COMPLETE"]  # signed, but the status API says not yet
    resp = shop.client.get(f"{back.path}?{back.query}")
    assert resp.status_code == 202 and shop.credits() == 0
    resp = shop.client.get(f"{back.path}?{back.query}")  # a retry: now COMPLETE
    assert resp.status_code == 200 and shop.credits() == 1 and shop.outstanding() == 0
    with shop.db.session() as s:
        payment = s.scalars(select(RetailerPayment)).one()
        assert payment.method == PaymentMethod.ESEWA and payment.reference == f"0{uuid[:6].upper()}"
    assert shop.client.get(f"{back.path}?{back.query}").status_code == 200 and shop.credits() == 1


def test_esewa_failure_return_cancels_after_asking(shop: Shop, esewa_server: FakeEsewa) -> None:
    form = _esewa_form(shop, esewa_server)
    token = form["transaction_uuid"]
    resp = shop.client.get(f"/pay/esewa/failure?t={token}")
    assert resp.status_code == 200 and shop.request().status == "CANCELLED" and shop.credits() == 0
    assert shop.client.get("/pay/esewa/failure?t=../../etc").status_code == 400


def test_esewa_status_with_another_amount_is_not_booked(shop: Shop, esewa_server: FakeEsewa) -> None:
    form = _esewa_form(shop, esewa_server)
    data = esewa_server.pay(form)
    esewa_server.paid_amount[form["transaction_uuid"]] = D(100)
    shop.client.get(f"/pay/esewa/success?data={data}")
    assert shop.request().status == "REVIEW" and shop.credits() == 0


def test_one_request_belongs_to_one_gateway(shop: Shop, khalti_server: FakeKhalti, esewa_server: FakeEsewa) -> None:
    links = dict((g, p) for p, g in LINK.findall(shop.say("pay")))
    assert shop.client.get(links["esewa"]).status_code == 200
    assert shop.client.get(links["khalti"]).status_code == 410  # started with eSewa: not twice
    assert not [r for r in khalti_server.requests if r[1] == "/epayment/initiate/"]


# --- asking to pay -------------------------------------------------------------------------------


def test_pay_in_nepali_for_part_of_the_debt(shop: Shop) -> None:
    reply = shop.say("तिर्नु ५००")
    assert "तपाईंको खाताको रु ५०० (Ram Traders लाई) तिर्नुहोस्:" in reply and "/khalti" in reply
    assert shop.request().amount == D(500)
    assert "रु ५००" in reply and shop.say("तिर्नु ५००") == reply  # the same open request again
    assert "is more than you owe (NPR 1,500)" in shop.say("pay 5000")
    assert "could not read the amount" in shop.say("pay 5,00.0.0")
    assert "Your khata:" in shop.say("tirnu kati cha?")  # how much is owed: a balance question
    hisab = shop.say("hisab")
    assert "To pay now through Khalti / eSewa, send PAY" in hisab


def test_without_gateways_there_is_no_link(fresh_database: Database, settings: Settings, redis: Redis) -> None:
    shop = _shop(fresh_database, settings.with_overrides(database_url=fresh_database.url), redis)
    assert "Paying from the chat is not set up yet. You owe NPR 1,500" in shop.say("pay")
    assert "To pay now" not in shop.say("hisab")
    with shop.db.session() as s:
        assert s.scalar(select(func.count()).select_from(PaymentRequest)) == 0
    assert shop.client.get(f"/pay/{'a' * 32}/khalti").status_code == 404


def test_nothing_owed_nothing_to_pay(
    fresh_database: Database, settings: Settings, redis: Redis, khalti_server: FakeKhalti, esewa_server: FakeEsewa
) -> None:
    shop = _shop(fresh_database, _gateway_settings(settings, khalti_server, esewa_server, fresh_database), redis)
    pidx = _to_khalti(shop, khalti_server)
    khalti_server.complete(pidx)
    shop.client.get(f"/pay/khalti/return?pidx={pidx}")
    assert "You owe nothing right now" in shop.say("pay")
