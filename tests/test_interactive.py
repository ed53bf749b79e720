# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""WhatsApp's own interaction (issue 15): reply buttons and list messages through Twilio's Content
API, `thok content sync` against the fake Twilio, and taps coming back as signed webhooks
(ButtonPayload / ListId) that run the same commands as typed text, exactly once."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.app import create_app
from channels.content import DEFINITIONS, SIDS_KEY, ContentApi, recorded_sids, sync
from db.models import InboundMessage, Order, OutboundMessage, Wholesaler
from domain import messaging
from tests.fake_twilio import PUBLIC, fake_twilio, run_worker, signed_headers, thok_settings, twilio_form  # noqa: F401
from thok import runtime
from thok.cli import main as thok_cli
from thok.runtime import redis_for
from thok.seed import seed_demo
from workers import context

PATH = "/webhooks/twilio/whatsapp"
SURESH = "+9779841000103"  # KC Mart, English
KRISHNA = "+9779841000101"  # Adhikari Kirana Pasal, Nepali
_sids = itertools.count(7_000)


def content_posts(fake: Any) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/Content"]


def test_content_sync_creates_each_definition_once_and_records_the_sids(fake_twilio, redis) -> None:
    api = ContentApi("AC" + "0" * 32, "test-auth-token", fake_twilio.url)
    fake_twilio.content_page_size = 5  # 13 definitions: the list comes in three pages
    report = sync(api, redis)
    assert sorted(report.created) == sorted(d["friendly_name"] for d in DEFINITIONS) and len(report.created) == 13
    posted = [json.loads(r.form["json"]) for r in content_posts(fake_twilio)]
    auth = content_posts(fake_twilio)[0].authorization
    assert base64.b64decode(auth.split()[1]).decode() == "AC" + "0" * 32 + ":test-auth-token"
    three = next(d for d in posted if d["friendly_name"] == "thok_buttons_3")
    assert three["types"]["twilio/quick-reply"] == {
        "body": "{{1}}",
        "actions": [
            {"title": "{{2}}", "id": "{{3}}"},
            {"title": "{{4}}", "id": "{{5}}"},
            {"title": "{{6}}", "id": "{{7}}"},
        ],
    }
    ten = next(d for d in posted if d["friendly_name"] == "thok_list_10")
    picker = ten["types"]["twilio/list-picker"]
    assert picker["body"] == "{{1}}" and picker["button"] == "{{2}}" and len(picker["items"]) == 10
    assert picker["items"][9] == {"item": "{{30}}", "id": "{{31}}", "description": "{{32}}"}
    assert set(ten["variables"]) == {str(n) for n in range(1, 33)}  # a sample for every variable
    recorded = recorded_sids(redis)
    assert recorded == report.sids and set(recorded.values()) == set(fake_twilio.contents)

    # Again: nothing created (the account is paged through, all 13 found).
    again = sync(api, redis)
    assert len(content_posts(fake_twilio)) == 13 and again.created == [] and len(again.kept) == 13
    assert recorded_sids(redis) == recorded

    # A definition that differs in the account (edited by hand, or an older Thok's) is replaced.
    old_sid = recorded["thok_buttons_2"]
    fake_twilio.contents[old_sid]["types"] = {"twilio/text": {"body": "{{1}}"}}
    third = sync(api, redis)
    assert third.replaced == ["thok_buttons_2"] and old_sid not in fake_twilio.contents
    assert recorded_sids(redis)["thok_buttons_2"] != old_sid and len(fake_twilio.contents) == 13


def test_thok_content_sync_command(fake_twilio, redis, redis_url, database_url, monkeypatch) -> None:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "tok",
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "TWILIO_API_BASE": fake_twilio.url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("THOK_DEV_MODE", raising=False)
    runtime.settings.cache_clear()  # the CLI reads these settings, not an earlier test's
    redis.delete(SIDS_KEY)
    try:
        result = CliRunner().invoke(thok_cli, ["content", "sync"])
        assert result.exit_code == 0, result.output
        assert "thok_list_4\tHX" in result.output and "13 created, 0 replaced, 0 unchanged" in result.output
        assert len(recorded_sids(redis)) == 13
        result = CliRunner().invoke(thok_cli, ["content", "sync"])
        assert "0 created, 0 replaced, 13 unchanged" in result.output
    finally:
        runtime.settings.cache_clear()  # the next test reads its own


@pytest.fixture
def phone(thok_settings: Any, fresh_database: Any, fake_twilio: Any, redis: Any) -> Iterator[Any]:
    """A demo market behind the signed webhook; `phone.send(number, body, **tap)` returns the
    messages sent to that number as the fake Twilio received them."""
    settings = thok_settings.with_overrides(offer_window_seconds=3600)
    context.configure(settings)
    with fresh_database.unit_of_work() as uow:
        seed_demo(uow.session)
        uow.commit()
    client = create_app(settings, fresh_database, redis_for(settings), TESTING=True).test_client()

    class Phone:
        db = fresh_database

        @staticmethod
        def post(form: dict[str, str]) -> int:
            return int(client.post(PATH, data=form, headers=signed_headers(PATH, form), base_url=PUBLIC).status_code)

        @staticmethod
        def send(number: str, body: str, sid: str | None = None, **tap: str) -> list[dict[str, str]]:
            before = len(fake_twilio.posts())
            form = twilio_form(sid or f"SM{next(_sids):032d}", sender=number, body=body, **tap)
            assert Phone.post(form) == 200
            run_worker(redis)
            return [r.form for r in fake_twilio.posts()[before:] if r.form.get("To") == f"whatsapp:{number}"]

        @staticmethod
        def to(number: str) -> list[dict[str, str]]:
            return [r.form for r in fake_twilio.posts() if r.form.get("To") == f"whatsapp:{number}"]

    try:
        yield Phone
    finally:
        context.configure(None)


def shown(form: dict[str, str], sids: dict[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """(definition name, [(id, title)]) of an interactive message as sent."""
    name = {sid: n for n, sid in sids.items()}[form["ContentSid"]]
    v = json.loads(form["ContentVariables"])
    if name.startswith("thok_buttons_"):
        n = int(name.rsplit("_", 1)[1])
        return name, [(v[str(2 * i + 3)], v[str(2 * i + 2)]) for i in range(n)]
    n = int(name.rsplit("_", 1)[1])
    return name, [(v[str(3 * i + 4)], v[str(3 * i + 3)]) for i in range(n)]


def test_a_trade_by_tapping_list_rows_and_buttons(phone, fake_twilio, redis) -> None:
    sids = sync(ContentApi("AC" + "0" * 32, "test-auth-token", fake_twilio.url), redis).sids
    [asked] = phone.send(KRISHNA, "२ बोरा चामल, 5 ctn wai wai")
    name, rows = shown(asked, sids)
    assert name == "thok_list_4" and "Body" not in asked
    assert [cid for cid, _ in rows] == ["1", "2", "3", "4"]
    assert "बासमती चामल" in [title for _, title in rows]
    variables = json.loads(asked["ContentVariables"])
    assert variables["2"] == "छान्नुहोस्"  # the list's button, in the reader's language
    assert "१. " in variables["1"]  # the body itself still numbers the choices (the text fallback)

    # Tap "बासमती चामल" in the list: WhatsApp sends its title as Body and our id as ListId.
    row_id, title = next(r for r in rows if r[1] == "बासमती चामल")
    tap_sid = f"SM{next(_sids):032d}"
    [summary] = phone.send(KRISHNA, title, sid=tap_sid, ListId=row_id, ListTitle=title)
    name, buttons = shown(summary, sids)
    assert name == "thok_buttons_3"
    assert buttons == [("YES", "पक्का गर्नु"), ("CHANGE", "बदल्नु"), ("NO", "रद्द गर्नु")]
    summary_text = json.loads(summary["ContentVariables"])["1"]
    assert "बासमती चामल" in summary_text and "वाइवाइ" in summary_text

    # The same tap delivered twice by Twilio (same MessageSid): one inbound row, no second answer.
    assert phone.send(KRISHNA, title, sid=tap_sid, ListId=row_id, ListTitle=title) == []
    with phone.db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(InboundMessage).where(InboundMessage.message_sid == tap_sid)) == 1
        )

    # Wholesalers who wrote today are inside WhatsApp's 24-hour window: buttons can reach them.
    with phone.db.session() as s:
        wholesalers = list(s.scalars(select(Wholesaler.whatsapp_number)))
    for number in wholesalers:
        phone.send(number, "namaste")

    # "Change" keeps the draft and says how; then "Confirm" places it once.
    [change] = phone.send(KRISHNA, "बदल्नु", ButtonPayload="CHANGE", ButtonText="बदल्नु")
    assert "राखिएको छ" in (change.get("Body") or json.loads(change["ContentVariables"])["1"])
    placed = phone.send(KRISHNA, "पक्का गर्नु", ButtonPayload="YES", ButtonText="पक्का गर्नु")
    with phone.db.session() as s:
        orders = s.execute(select(Order.id, Order.ref)).all()
        assert len(orders) == 1 and orders[0].ref in placed[0]["Body"]
        order_id, ref = orders[0]

        # The invited wholesalers get "accept / make an offer / pass" buttons naming the order.
        invited = s.scalars(
            select(OutboundMessage).where(OutboundMessage.order_id == order_id, OutboundMessage.kind != "reply")
        ).all()
        wholesaler = next(m.to_number for m in invited if messaging.choices_of(m))
    invite = next(f for f in phone.to(wholesaler) if f.get("ContentSid"))
    _, buttons = shown(invite, sids)
    assert [cid for cid, _ in buttons] == [f"ACCEPT {ref}", f"OFFER {ref}", f"PASS {ref}"]
    # "Make an offer" asks for the total instead of "include the order number".
    [ask] = phone.send(wholesaler, "Make an offer", ButtonPayload=f"OFFER {ref}", ButtonText="Make an offer")
    assert f"OFFER {ref} 4500" in ask["Body"]


def test_without_synced_content_the_choices_go_as_numbered_text(phone, fake_twilio, redis) -> None:
    redis.delete(SIDS_KEY)
    [asked] = phone.send(SURESH, "2 bora chamal")
    assert "ContentSid" not in asked
    assert "1. " in asked["Body"] and "Reply with the number" in asked["Body"]
    [summary] = phone.send(SURESH, "2")  # the typed number does what the list row does
    assert "ContentSid" not in summary and "Reply YES" in summary["Body"]
    # A 👍 after something else was said is not a YES: the question comes back, with the buttons.
    phone.send(SURESH, "hisab")
    [asked_again] = phone.send(SURESH, "👍")
    with phone.db.session() as s:
        last = s.scalars(
            select(OutboundMessage).where(OutboundMessage.to_number == SURESH).order_by(OutboundMessage.id.desc())
        ).first()
        assert last is not None and last.body == asked_again["Body"]
        assert [cid for cid, _ in messaging.choices_of(last)] == ["YES", "CHANGE", "NO"]


def test_a_template_outside_the_window_gets_no_choice_variables() -> None:
    row = OutboundMessage(
        to_number=SURESH,
        body="New order TK-AB12",
        kind="offer_request",
        idempotency_key="k",
        content_variables={"1": "TK-AB12", messaging.CHOICES_KEY: [["ACCEPT TK-AB12", "Accept"]]},
    )
    delivery = messaging.choose_delivery(row, window_open=False, template_sid="HX" + "1" * 32)
    assert delivery.content_variables == {"1": "TK-AB12"}
    assert messaging.choices_of(row) == [("ACCEPT TK-AB12", "Accept")]


def test_an_oversized_choice_id_is_a_400_not_stored(phone) -> None:
    form = twilio_form("SM" + "9" * 32, sender=SURESH, body="x", ButtonPayload="Y" * 300)
    assert phone.post(form) == 400
    with phone.db.session() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_which_shape_a_set_of_choices_takes() -> None:
    from channels.content import interactive

    sids = {d["friendly_name"]: f"HX{n:032d}" for n, d in enumerate(DEFINITIONS)}
    three = interactive("Confirm?", [("YES", "Confirm"), ("CHANGE", "Change"), ("NO", "Cancel")], sids)
    assert three is not None and three.content_sid == sids["thok_buttons_3"]
    assert three.variables == {
        "1": "Confirm?",
        "2": "Confirm",
        "3": "YES",
        "4": "Change",
        "5": "CHANGE",
        "6": "Cancel",
        "7": "NO",
    }
    # A title longer than a button holds (20) goes as a list row (24), with the list's button text.
    long = interactive("Which?", [("1", "Sona Mansuli Rice 25kg"), ("2", "Basmati")], sids, list_button="छान्नुहोस्")
    assert long is not None and long.content_sid == sids["thok_list_2"] and long.variables["2"] == "छान्नुहोस्"
    assert (long.variables["3"], long.variables["4"]) == ("Sona Mansuli Rice 25kg", "1")
    four = interactive("Which?", [(str(n), f"P{n}") for n in range(1, 5)], sids)
    assert four is not None and four.content_sid == sids["thok_list_4"]
    # Beyond what WhatsApp takes, or not synced: None (the text goes as it is).
    assert interactive("x", [(str(n), f"P{n}") for n in range(11)], sids) is None
    assert interactive("x" * 1025, [("YES", "Confirm")], sids) is None
    assert interactive("x", [("1", "A row title far longer than 24")], sids) is None
    assert interactive("x", [("YES", "Confirm")], {}) is None
