"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, against the
real app served on a loopback port over a freshly seeded database. Screenshots of every step go to
`test-artifacts/` for a human to look at (and for CI to keep)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from werkzeug.serving import make_server

from db.session import Database
from tests.browser import support
from thok.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the [test] extra")


@pytest.fixture
def server(settings: Settings, fresh_database_url: str, redis_url: str) -> Iterator[tuple[str, Database, Settings]]:
    """The real app (production settings: secure cookies, CSRF) on 127.0.0.1 in a thread."""
    database = Database(fresh_database_url)
    support.seed(database)
    app = support.build_app(settings, database, Redis.from_url(redis_url))
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield (
            f"http://127.0.0.1:{httpd.server_port}",
            database,
            settings.with_overrides(database_url=fresh_database_url),
        )
    finally:
        httpd.shutdown()
        thread.join(5)
        database.dispose()


@pytest.fixture
def browser() -> Iterator[sync_api.Browser]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield b
        b.close()


def shot(page: sync_api.Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def sign_in(page: sync_api.Page, base: str, who: tuple[str, str] = support.ADMIN) -> None:
    page.goto(f"{base}/dashboard/login")
    page.fill("input[name=email]", who[0])
    page.fill("input[name=password]", who[1])
    page.click("button:has-text('Sign in')")
    sync_api.expect(page.locator("h1")).to_contain_text("Overview")


def test_an_admins_day(server: tuple[str, Database, Settings], browser: sync_api.Browser) -> None:
    base, database, settings = server
    open_id, open_ref = support.place_demo_order(database, settings, "open")
    support.place_demo_order(database, settings, "confirmed")  # something owed, to pay
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda dialog: dialog.accept())  # the "are you sure?" of destructive forms
    expect = sync_api.expect

    sign_in(page, base)
    expect(page.locator(".stat").first).to_contain_text("Orders today")
    shot(page, "01-overview")

    page.click("nav >> text=Retailers")
    page.click("text=New retailer")
    page.fill("input[name=name]", "Bishnu Karki")
    page.fill("input[name=display_name]", "Karki Kirana")
    page.fill("input[name=phone]", "9841555123")
    page.fill("input[name=credit_limit]", "15000")
    page.click("button:has-text('Create retailer')")
    expect(page.locator(".flash.ok")).to_contain_text("Retailer Bishnu Karki created")
    shot(page, "02-retailer-created")

    page.click("nav >> text=Wholesalers")
    page.click("text=Ram Prasad Shrestha")
    page.set_input_files(
        "input[name=file]",
        {
            "name": "prices.csv",
            "mimeType": "text/csv",
            "buffer": b"sku,price,stock\nRICE-JEERA,2500,40\nNOT-A-SKU,10,1\n",
        },
    )
    page.click("button:has-text('Upload')")
    expect(page.locator(".import-errors")).to_contain_text("line 3: unknown sku 'NOT-A-SKU'")
    expect(page.locator(".flash.error")).to_contain_text("nothing was imported")
    shot(page, "03-price-list-refused")

    page.goto(f"{base}/dashboard/retailers?q=Adhikari")
    page.click("text=Krishna Adhikari")
    page.click("text=Khata")
    page.fill("input[name=amount]", "500")
    page.select_option("select[name=method]", "cash")
    page.click("button:has-text('Record payment')")
    expect(page.locator(".flash.ok")).to_contain_text("Payment recorded: NPR 500")
    expect(page.locator("table.list")).to_contain_text("Payment (Cash)")
    shot(page, "04-payment-recorded")

    page.goto(f"{base}/dashboard/orders?status=PENDING_OFFERS")
    page.click(f"text={open_ref}")
    page.fill("input[name=reason]", "retailer phoned to cancel")
    page.click("button:has-text('Cancel order')")
    expect(page.locator(".flash.ok")).to_contain_text("Order cancelled")
    expect(page.locator("h1 .status")).to_have_text("CANCELLED")
    shot(page, "05-order-cancelled")

    page.click("nav >> text=Audit")
    log = page.locator("table.audit")
    for action in ("retailer.create", "payment.record", "order.cancel", "admin.login"):
        expect(log).to_contain_text(action)
    expect(log).not_to_contain_text("catalog.import_prices")  # the refused upload left no trace
    shot(page, "06-audit-log")
    assert support.order_status(database, open_id) == "CANCELLED"


def test_a_viewer_is_refused_and_a_form_without_csrf_is_refused(
    server: tuple[str, Database, Settings], browser: sync_api.Browser
) -> None:
    base, _, _ = server
    viewer = browser.new_page()
    sign_in(viewer, base, support.VIEWER)
    viewer.goto(f"{base}/dashboard/retailers/new")
    viewer.fill("input[name=name]", "Viewer Try")
    viewer.fill("input[name=phone]", "9841555777")
    viewer.click("button:has-text('Create retailer')")
    sync_api.expect(viewer.locator(".flash.error")).to_contain_text("read-only")
    assert viewer.locator("h1").inner_text() == "403"
    shot(viewer, "07-viewer-refused")

    admin = browser.new_page()
    sign_in(admin, base)
    admin.goto(f"{base}/dashboard/retailers/new")
    admin.evaluate("document.querySelector('main form input[name=csrf_token]').remove()")
    admin.fill("input[name=name]", "No Token")
    admin.fill("input[name=phone]", "9841555778")
    admin.click("button:has-text('Create retailer')")
    sync_api.expect(admin.locator(".flash.error")).to_contain_text("did not come from this site")
    shot(admin, "08-csrf-refused")
    admin.goto(f"{base}/dashboard/retailers?q=No+Token")
    sync_api.expect(admin.locator("table.list")).to_contain_text("No retailers match")


def test_lists_and_details_reflow_to_one_column_on_a_phone(
    server: tuple[str, Database, Settings], browser: sync_api.Browser
) -> None:
    base, database, settings = server
    order_id, _ = support.place_demo_order(database, settings, "selected")
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    sign_in(phone, base)
    phone.goto(f"{base}/dashboard/orders")
    # Each row is a stack of "label value" lines: no header row, cells as blocks, nothing wider than the screen.
    assert phone.eval_on_selector("table.list thead", "e => getComputedStyle(e).display") == "none"
    assert phone.eval_on_selector("table.list td", "e => getComputedStyle(e).display") == "block"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "09-phone-orders")
    phone.goto(f"{base}/dashboard/orders/{order_id}")
    columns = phone.eval_on_selector(".grid2", "e => getComputedStyle(e).gridTemplateColumns")
    assert len(columns.split()) == 1, columns
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "10-phone-order-detail")
