"""A whole trade in the simulator by tapping, in headless Chromium (issue 15): KC Mart orders with an
unclear word, picks from the list, confirms; an invited wholesaler taps "Make an offer", wins,
confirms; KC Mart sees the winner and taps "Show khata". The worker runs between the steps in this
thread (RQ's worker wants the main thread), the offer window closes by the orders sweep.
Screenshots go to test-artifacts/ (and docs/ when THOK_DOCS_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func, select, update
from werkzeug.serving import make_server

from db.models import Order, OrderStatus, VendorOffer, Wholesaler
from db.session import Database
from tests.browser import support
from tests.fake_twilio import run_worker
from thok.config import Settings
from workers import context
from workers.orders import close_offer_window

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the [test] extra")


@pytest.fixture
def demo(settings: Settings, fresh_database_url: str, redis_url: str) -> Iterator[tuple[str, Database, Redis]]:
    """The demo as `thok demo` runs it: dev mode, no Twilio, the seeded market, a short offer window."""
    database = Database(fresh_database_url)
    support.seed(database)
    redis = Redis.from_url(redis_url)
    demo_settings = settings.with_overrides(
        database_url=fresh_database_url,
        dev_mode=True,
        twilio_account_sid=None,
        twilio_auth_token=None,
        twilio_whatsapp_from=None,
        public_base_url=None,
        offer_window_seconds=600,  # closed by the test once the offer is in (the timer firing)
    )
    context.configure(demo_settings)
    app = support.build_app(demo_settings, database, redis)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", database, redis
    finally:
        httpd.shutdown()
        thread.join(5)
        context.configure(None)
        database.dispose()


@pytest.fixture
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield b
        b.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if os.environ.get("THOK_DOCS_SCREENSHOTS") == "1":
        page.screenshot(path=str(ROOT / "docs" / f"{name}.png"))


def test_a_whole_trade_by_tapping(demo: tuple[str, Database, Redis], browser: Any) -> None:
    base, database, redis = demo
    page = browser.new_page(viewport={"width": 1280, "height": 860})

    def until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
        """Run the worker (and the orders sweep) until the page shows `what`."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                page.screenshot(path=str(ARTIFACTS / "simulator-failed.png"))
                raise AssertionError(f"never saw: {what}")
            run_worker(redis)
            page.wait_for_timeout(400)

    def bubbles(text: str) -> Any:
        return page.locator(".msg.thok", has_text=text)

    page.goto(f"{base}/simulator")
    page.click(".party[data-name='KC Mart']")
    sync_api.expect(page.locator("#who-meta")).to_contain_text("You are KC Mart (retailer)")
    page.fill("#body", "2 bora chamal, 5 ctn wai wai")
    page.press("#body", "Enter")
    until(lambda: bubbles("Which one do you mean").count() == 1, "the question about chamal")
    question = bubbles("Which one do you mean").last
    shot(page, "simulator-question")
    question.locator("button", has_text="Choose").click()
    question.locator(".list-rows button", has_text="Basmati").click()
    until(lambda: bubbles("Your order:").count() == 1, "the summary")
    summary = bubbles("Your order:").last
    assert "Basmati" in summary.inner_text() and "Wai Wai" in summary.inner_text()
    summary.locator("button[data-payload='YES']").click()
    until(lambda: bubbles("TK-").count() >= 1, "the order placed")
    ref = re.search(r"TK-[A-Z0-9]+", bubbles("TK-").last.inner_text())
    assert ref is not None
    assert page.locator(".msg.mine").count() == 3  # what KC Mart wrote and tapped, each once
    shot(page, "simulator-retailer-order")

    with database.session() as s:
        order = s.scalars(select(Order).where(Order.ref == ref.group(0))).one()
        invited = s.execute(
            select(Wholesaler.whatsapp_number, Wholesaler.business_name, Wholesaler.name)
            .join(VendorOffer, VendorOffer.wholesaler_id == Wholesaler.id)
            .where(VendorOffer.order_id == order.id)
        ).first()
        total = int(order.estimated_total or 0)
        order_id = order.id
    assert invited is not None
    page.click(f".party[data-phone='{invited.whatsapp_number}']")
    # The buttons are found by the command they stand for: the wholesaler may read Nepali.
    accept = f"button[data-payload='ACCEPT {ref.group(0)}']"
    until(lambda: page.locator(accept).count() == 1, "the invitation")
    page.locator(f"button[data-payload='OFFER {ref.group(0)}']").click()
    until(lambda: bubbles(f"OFFER {ref.group(0)} 4500").count() == 1, "how to write the offer")
    page.fill("#body", f"OFFER {ref.group(0)} {total * 95 // 100} tomorrow")
    page.press("#body", "Enter")
    until(lambda: _offered(database, order_id), "the offer taken")
    with database.unit_of_work() as uow:  # the offer window ends now, and its timer fires
        uow.session.execute(update(Order).where(Order.id == order_id).values(offer_window_closes_at=func.now()))
        uow.commit()
    close_offer_window(order_id)
    until(lambda: page.locator(accept).count() == 2, "the win (its Confirm order button)", timeout=45)
    page.locator(accept).last.click()
    until(
        lambda: _status(database, ref.group(0)) == OrderStatus.CONFIRMED and page.locator(".msg.thok").count() >= 5,
        "the order confirmed",
    )
    shot(page, "simulator-wholesaler")

    page.click(".party[data-name='KC Mart']")
    until(lambda: bubbles("is confirmed").count() == 1, "the retailer told who won")
    confirmed = bubbles("is confirmed").last
    assert (invited.business_name or invited.name) in confirmed.inner_text()
    confirmed.locator("button[data-payload='hisab']").click()
    until(lambda: bubbles("Your khata:").count() == 1, "the khata")
    assert "Outstanding: NPR 10,121" in bubbles("Your khata:").inner_text()
    page.wait_for_timeout(1500)  # a poll or two: the read ticks turn blue
    assert page.locator(".msg.thok .ticks.read").count() >= 1
    shot(page, "simulator-trade")

    page.goto(f"{base}/dashboard/login")
    page.fill("input[name=email]", support.ADMIN[0])
    page.fill("input[name=password]", support.ADMIN[1])
    page.click("button:has-text('Sign in')")
    page.goto(f"{base}/dashboard/conversations?phone=%2B9779841000103")
    sync_api.expect(page.locator(".wa-head")).to_contain_text("KC Mart")
    assert page.locator(".wa-msg.thok").count() >= 4
    shot(page, "dashboard-conversations")


def _offered(database: Database, order_id: int) -> bool:
    with database.session() as s:
        answered = select(VendorOffer).where(VendorOffer.order_id == order_id, VendorOffer.responded_at.is_not(None))
        return s.scalars(answered).first() is not None


def _status(database: Database, ref: str) -> OrderStatus:
    with database.session() as s:
        return s.scalars(select(Order.status).where(Order.ref == ref)).one()
