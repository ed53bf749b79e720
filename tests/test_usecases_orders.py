"""The order's use cases (usecases/orders.py, usecases/offers.py), driven from each entry point that
offers them: WhatsApp (handle_message in a unit of work, its notices rendered into the outbox as the
inbound job does) and the dashboard (Flask's test client, signed in, CSRF on). The same action tells
the same people and writes the same audit rows wherever it starts.

Also: domain errors carry a code the message catalog renders in both languages (no English domain
text reaches a Nepali reader), a refused fulfilment step says what to do instead, and every command
the parser can produce has a handler.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select

import domain
from db.models import (
    ActorType,
    AdminAuditLog,
    AuditLog,
    OfferStatus,
    Order,
    OrderStatus,
    OutboundMessage,
    Product,
    Retailer,
    Wholesaler,
    WholesalerProduct,
)
from db.session import Database
from domain.credit import set_credit_limit
from domain.errors import DomainError
from domain.money import digits_for
from handlers import Sender
from handlers.dispatch import ROUTES, handle_message
from handlers.messages import CATALOG
from parsing import commands
from parsing.parser import INTENTS, Intent
from tests.browser import support
from tests.conftest import _create_database, _drop_database, url_with_database
from tests.test_dashboard import login, post
from tests.thok_cli import ThokCli, production_cli
from thok.config import Settings
from workers import effects

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def market(pg_admin_url: str, db_prefix: str, template_db: str) -> Iterator[Database]:
    """The demo market with its admin; each test makes its own orders and looks only at those."""
    name = f"{db_prefix}_usecases_orders"
    _create_database(pg_admin_url, name, template=template_db)
    db = Database(url_with_database(pg_admin_url, name))
    support.seed(db)
    with db.unit_of_work() as uow:  # room for every order the tests here confirm
        shop = uow.session.scalars(select(Retailer.id).where(Retailer.whatsapp_number == support.RETAILER_PHONE)).one()
        set_credit_limit(uow.session, shop, Decimal(10_000_000))
        uow.commit()
    yield db
    db.dispose()
    _drop_database(pg_admin_url, name)


@pytest.fixture
def app(settings: Settings, market: Database, redis: Redis) -> Flask:
    return support.build_app(settings, market, redis, TESTING=True)


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert login(client).status_code == 302
    return client


@pytest.fixture
def thok(market: Database, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThokCli]:
    yield from production_cli(monkeypatch, market.url, redis_url)


def whatsapp(db: Database, settings: Settings, sender: Sender, text: str) -> str:
    """One message as the inbound job handles it: the replies, and the notices rendered into the
    outbox in the same transaction."""
    with db.unit_of_work() as uow:
        replies = handle_message(uow.session, sender, text, settings)
        effects.collect(uow.session, settings)
        uow.commit()
    return "\n".join(r.body for r in replies)


def party_sender(
    db: Database, model: type[Retailer] | type[Wholesaler], party_id: int, lang: str | None = None
) -> Sender:
    with db.session() as s:
        party = s.get(model, party_id)
        assert party is not None
        kind = "retailer" if model is Retailer else "wholesaler"
        return Sender(kind, party.whatsapp_number, party.id, language=lang, name=party.name)


def order_row(db: Database, order_id: int) -> Order:
    [order] = support.detached(db, select(Order).where(Order.id == order_id))
    return order


def winner_sender(db: Database, order_id: int, lang: str | None = "en") -> Sender:
    winner = support.winner_offer(db, order_id)
    assert winner is not None
    return party_sender(db, Wholesaler, winner.wholesaler_id, lang)


def retailer_sender(db: Database, order_id: int, lang: str | None = "en") -> Sender:
    return party_sender(db, Retailer, order_row(db, order_id).retailer_id, lang)


def told(db: Database, order_id: int) -> dict[str, tuple[int | None, int | None, str]]:
    """The order's notices in the outbox: dedupe key -> (retailer id, wholesaler id, body)."""
    rows = support.detached(
        db,
        select(OutboundMessage).where(
            OutboundMessage.order_id == order_id, OutboundMessage.idempotency_key.like("notice:%")
        ),
    )
    # A long message goes in parts ("…#2"): one notice is its first part.
    return {
        m.idempotency_key.removeprefix("notice:"): (m.retailer_id, m.wholesaler_id, m.body)
        for m in rows
        if "#" not in m.idempotency_key
    }


def audited(db: Database, order_id: int, action: str) -> list[tuple[str, Any, Any, Any]]:
    """The use case's audit rows about the order, whichever trail: (who, actor id, before, after)."""
    admin = support.detached(
        db,
        select(AdminAuditLog).where(AdminAuditLog.action == action, AdminAuditLog.entity_id == str(order_id)),
    )
    party = support.detached(db, select(AuditLog).where(AuditLog.action == action, AuditLog.order_id == order_id))
    return [("ADMIN", a.admin_id, a.before, a.after) for a in admin] + [
        (p.actor_type.value, p.actor_id, p.details["before"], p.details["after"]) for p in party
    ]


def transitions(db: Database, order_id: int) -> list[tuple[str | None, str | None, str]]:
    rows = support.detached(
        db,
        select(AuditLog)
        .where(AuditLog.order_id == order_id, AuditLog.action == "order.transition")
        .order_by(AuditLog.id),
    )
    return [(r.from_status, r.to_status, r.actor_type.value) for r in rows]


def statuses(rows: list[tuple[str, Any, Any, Any]]) -> list[tuple[str, str]]:
    return [(before["status"], after["status"]) for _, _, before, after in rows]


# --- cancel: the retailer on WhatsApp, Thok in the dashboard ----------------------------------------


def test_an_admins_cancel_tells_both_parties_that_thok_cancelled_and_why(
    admin: FlaskClient, market: Database, settings: Settings
) -> None:
    order_id, ref = support.place_demo_order(market, settings, "selected")
    order = order_row(market, order_id)
    resp = post(
        admin, f"/dashboard/orders/{order_id}/cancel", {"reason": "shop closed for Tihar"}, follow_redirects=True
    )
    assert b"the retailer and wholesaler are being told" in resp.data
    notices = told(market, order_id)
    # Before: only the wholesaler was told, and told that the retailer had cancelled.
    retailer_id, _, to_retailer = notices[f"cancelled:{order_id}:r"]
    _, wholesaler_id, to_wholesaler = notices[f"cancelled:{order_id}:w"]
    assert retailer_id == order.retailer_id and wholesaler_id == order.final_wholesaler_id
    for body in (to_retailer, to_wholesaler):
        assert ref in body and "shop closed for Tihar" in body
        assert re.search("Thok cancelled|थोकले .*रद्द गर्‍यो", body), body
        assert "by the retailer" not in body and "पसलले रद्द" not in body
    assert statuses(audited(market, order_id, "order.cancel")) == [("WHOLESALER_SELECTED", "CANCELLED")]
    assert transitions(market, order_id)[-1] == ("WHOLESALER_SELECTED", "CANCELLED", "ADMIN")


def test_thok_cancel_order_tells_and_audits_as_the_dashboard_does(
    thok: ThokCli, market: Database, settings: Settings
) -> None:
    order_id, ref = support.place_demo_order(market, settings, "confirmed")
    refused = thok("cancel-order", ref, "--reason", "  ", "--admin", support.ADMIN[0], ok=False)
    assert refused.exit_code != 0 and "say why the order is cancelled" in refused.output
    done = thok("cancel-order", ref.lower(), "--reason", "wrong shop", "--admin", support.ADMIN[0])
    assert f"{ref}: CANCELLED" in done.output
    notices = told(market, order_id)
    assert {k for k in notices if k.startswith("cancelled:")} == {f"cancelled:{order_id}:r", f"cancelled:{order_id}:w"}
    assert all("wrong shop" in notices[k][2] for k in (f"cancelled:{order_id}:r", f"cancelled:{order_id}:w"))
    [(who, _, before, after)] = audited(market, order_id, "order.cancel")
    assert who == "ADMIN" and (before["status"], after["status"]) == ("CONFIRMED", "CANCELLED")
    # Without --admin, the operator at the shell is audited (audit_logs, actor SYSTEM).
    other, other_ref = support.place_demo_order(market, settings, "open")
    thok("cancel-order", other_ref, "--reason", "duplicate order")
    [(who, _, _, _)] = audited(market, other, "order.cancel")
    assert who == "SYSTEM" and f"cancelled:{other}:r" in told(market, other)
    # Offers were still open: every invited wholesaler hears there is nothing to answer any more.
    invited = {o.wholesaler_id for o in support.offers_of(market, other)}
    withdrawn = {k: v for k, v in told(market, other).items() if k.startswith("withdrawn:")}
    assert {v[1] for v in withdrawn.values()} == invited and all(other_ref in v[2] for v in withdrawn.values())


def test_a_retailers_cancel_tells_the_wholesaler_the_retailer_cancelled(market: Database, settings: Settings) -> None:
    order_id, ref = support.place_demo_order(market, settings, "selected")
    order = order_row(market, order_id)
    reply = whatsapp(market, settings, retailer_sender(market, order_id), f"cancel {ref}")
    assert reply == f"Order {ref} is cancelled."
    notices = told(market, order_id)
    assert set(notices) == {f"cancelled:{order_id}:w"}  # the retailer has the reply
    _, wholesaler_id, body = notices[f"cancelled:{order_id}:w"]
    assert wholesaler_id == order.final_wholesaler_id and ref in body
    assert re.search("cancelled by the retailer|पसलले रद्द", body), body
    # The same audit row an admin's cancel writes (action, before, after), by the retailer.
    [(who, actor_id, before, after)] = audited(market, order_id, "order.cancel")
    assert (who, actor_id) == ("RETAILER", order.retailer_id)
    assert (before["status"], after["status"]) == ("WHOLESALER_SELECTED", "CANCELLED")
    assert transitions(market, order_id)[-1] == ("WHOLESALER_SELECTED", "CANCELLED", "RETAILER")
    # Cancelling again is refused for what it is, and changes nothing.
    again = whatsapp(market, settings, retailer_sender(market, order_id), f"cancel {ref}")
    assert again == f"Order {ref} cannot be cancelled now: it is cancelled."
    assert len(audited(market, order_id, "order.cancel")) == 1


# --- dispatch and deliver: the winner on WhatsApp, Thok in the dashboard ------------------------------


def _fulfilment_record(market: Database, order_id: int) -> tuple[set[str], list[tuple[str, str]]]:
    notices = told(market, order_id)
    order = order_row(market, order_id)
    fulfilment = {k for k in notices if k.startswith(("dispatched:", "delivered:"))}
    assert all(notices[k][0] == order.retailer_id and notices[k][1] is None for k in fulfilment)
    steps = statuses(audited(market, order_id, "order.mark_dispatched")) + statuses(
        audited(market, order_id, "order.mark_delivered")
    )
    return {k.split(":")[0] for k in fulfilment}, steps


def test_dispatch_and_deliver_tell_and_audit_the_same_from_whatsapp_the_dashboard_and_thok(
    admin: FlaskClient, thok: ThokCli, market: Database, settings: Settings
) -> None:
    by_chat, ref = support.place_demo_order(market, settings, "confirmed")
    winner = winner_sender(market, by_chat)
    assert whatsapp(market, settings, winner, f"DISPATCHED {ref}") == (
        f"Thank you: {ref} is marked as dispatched; the retailer is told."
    )
    assert whatsapp(market, settings, winner, f"DELIVERED {ref}") == f"Thank you: {ref} is marked as delivered."

    by_admin, _ = support.place_demo_order(market, settings, "confirmed")
    post(admin, f"/dashboard/orders/{by_admin}/advance", {"to": "DISPATCHED"})
    post(admin, f"/dashboard/orders/{by_admin}/advance", {"to": "DELIVERED"})

    by_shell, shell_ref = support.place_demo_order(market, settings, "confirmed")
    thok("mark-order", shell_ref, "DISPATCHED", "--admin", support.ADMIN[0])
    assert f"{shell_ref}: DELIVERED" in thok("mark-order", shell_ref, "delivered", "--admin", support.ADMIN[0]).output

    expected = ({"dispatched", "delivered"}, [("CONFIRMED", "DISPATCHED"), ("DISPATCHED", "DELIVERED")])
    assert _fulfilment_record(market, by_chat) == expected
    assert _fulfilment_record(market, by_admin) == expected
    assert _fulfilment_record(market, by_shell) == expected
    assert {who for who, *_ in audited(market, by_chat, "order.mark_dispatched")} == {"WHOLESALER"}
    assert {who for who, *_ in audited(market, by_admin, "order.mark_dispatched")} == {"ADMIN"}
    assert [t[2] for t in transitions(market, by_chat)[-2:]] == ["WHOLESALER", "WHOLESALER"]
    assert [t[2] for t in transitions(market, by_admin)[-2:]] == ["ADMIN", "ADMIN"]


def test_dispatched_before_accept_is_told_to_accept_first(market: Database, settings: Settings) -> None:
    order_id, ref = support.place_demo_order(market, settings, "selected")
    reply = whatsapp(market, settings, winner_sender(market, order_id), f"DISPATCHED {ref}")
    # Before: "Order TK-… cannot be cancelled now: it is wholesaler chosen, awaiting confirmation."
    assert (
        reply == f"{ref} is waiting for your ACCEPT: send ACCEPT {ref} first; it can be marked dispatched after that."
    )
    assert "cancel" not in reply.lower()
    nepali = whatsapp(market, settings, winner_sender(market, order_id, "ne"), f"DELIVERED {ref}")
    assert f"ACCEPT {ref}" in nepali and "रद्द" not in nepali
    assert order_row(market, order_id).status.value == "WHOLESALER_SELECTED"
    assert audited(market, order_id, "order.mark_dispatched") == []


def test_delivered_before_dispatched_is_told_to_dispatch_first(market: Database, settings: Settings) -> None:
    order_id, ref = support.place_demo_order(market, settings, "confirmed")
    reply = whatsapp(market, settings, winner_sender(market, order_id), f"DELIVERED {ref}")
    assert reply.startswith(f"{ref} is not dispatched yet: send DISPATCHED {ref}")


# --- the offer round on WhatsApp; the override in the dashboard -------------------------------------


def test_offer_accept_and_pass_are_audited_and_the_winners_accept_confirms(
    market: Database, settings: Settings
) -> None:
    order_id, ref = support.place_demo_order(market, settings, "open")
    offers = support.offers_of(market, order_id)
    assert len(offers) >= 2
    first, second = (party_sender(market, Wholesaler, o.wholesaler_id, "en") for o in offers[:2])
    assert whatsapp(market, settings, first, f"OFFER {ref} 4000 tomorrow").startswith(
        f"Your offer for {ref}: NPR 4,000"
    )
    assert whatsapp(market, settings, second, f"PASS {ref}") == f"OK, you passed on {ref}."
    actions = {
        a.action: (a.actor_type, a.actor_id)
        for a in support.detached(market, select(AuditLog).where(AuditLog.action.like("offer.%")))
        if a.details["after"]["order_ref"] == ref
    }
    assert actions["offer.submit"] == (ActorType.WHOLESALER, first.id)
    assert actions["offer.pass"] == (ActorType.WHOLESALER, second.id)

    selected, sref = support.place_demo_order(market, settings, "selected")
    reply = whatsapp(market, settings, winner_sender(market, selected), f"ACCEPT {sref}")
    assert sref in reply
    assert order_row(market, selected).status.value == "CONFIRMED"
    assert f"confirmed:{selected}" in told(market, selected)  # the retailer is told
    assert statuses(audited(market, selected, "order.confirm")) == [("WHOLESALER_SELECTED", "CONFIRMED")]


def test_an_admins_override_goes_through_the_use_case(admin: FlaskClient, market: Database, settings: Settings) -> None:
    order_id, ref = support.place_demo_order(market, settings, "open")
    chosen = support.offers_of(market, order_id)[-1]
    resp = post(admin, f"/dashboard/orders/{order_id}/override", {"offer_id": chosen.id}, follow_redirects=True)
    assert f"Offer {chosen.id} won".encode() in resp.data
    notices = told(market, order_id)
    assert f"won:{order_id}:{chosen.id}" in notices and f"selected:{order_id}:{chosen.id}" in notices
    [(who, _, before, after)] = audited(market, order_id, "order.override_winner")
    assert who == "ADMIN" and after["offer_id"] == chosen.id and after["outcome"] == "won"
    assert (before["status"], after["status"]) == ("PENDING_OFFERS", "WHOLESALER_SELECTED")


def test_placing_an_order_from_the_draft_invites_and_is_audited(market: Database, settings: Settings) -> None:
    with market.session() as s:
        retailer = s.scalars(select(Retailer).where(Retailer.whatsapp_number == support.RETAILER_PHONE)).one()
        shop = Sender("retailer", retailer.whatsapp_number, retailer.id, language="en", name=retailer.name)
    whatsapp(market, settings, shop, "2 bora jeera masino")
    reply = whatsapp(market, settings, shop, "YES")
    ref = re.search(r"TK-[A-Z0-9]+", reply).group(0)  # type: ignore[union-attr]
    [order] = support.detached(market, select(Order).where(Order.ref == ref))
    invited = support.offers_of(market, order.id)
    notices = told(market, order.id)
    assert {k for k in notices if k.startswith("invite:")} == {f"invite:{order.id}:{o.wholesaler_id}" for o in invited}
    created = support.detached(market, select(AuditLog).where(AuditLog.order_id == order.id))
    assert [(a.action, a.actor_type) for a in created] == [("order.created", ActorType.RETAILER)]


# --- errors: a code, values, and a text in both languages ----------------------------------------------


def _domain_errors() -> set[type[DomainError]]:
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")
    found: set[type[DomainError]] = set()
    todo: list[type[DomainError]] = [DomainError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo += cls.__subclasses__()
    return found


def test_every_domain_error_has_a_code_the_catalog_says_in_both_languages() -> None:
    errors = _domain_errors()
    assert len(errors) >= 15  # the walk found the domain's refusals, not just the base class
    codes = {cls.__name__: cls.__dict__.get("code") for cls in errors}
    assert all(codes.values()), f"no code of their own: {[n for n, c in codes.items() if not c]}"
    # And every narrower code a raise site names.
    named = {
        m.group(1)
        for path in (ROOT / "domain").glob("*.py")
        for m in re.finditer(r'\bcode="([a-z_]+)"', path.read_text(encoding="utf-8"))
    }
    for code in set(codes.values()) | named:
        assert code in CATALOG, code
        assert {"en", "ne"} <= set(CATALOG[code]), code
        # The domain's English (`{detail}`) is never pasted into the Nepali text.
        assert "{detail}" not in CATALOG[code]["ne"], code
        assert not re.search(
            "[A-Za-z]{4,}", re.sub(r"\{\w+\}|[A-Z]{4,}|TK-\w+|HELP|STATUS", "", CATALOG[code]["ne"])
        ), code


def test_every_state_a_refusal_can_name_is_in_the_catalog() -> None:
    """A refusal names the order's state and the move tried (IllegalTransition) or the answer on
    record (already_answered): each one has its words in both languages."""
    keys = [f"state_{s.value}" for s in OrderStatus] + [f"to_{s.value}" for s in OrderStatus]
    keys += [f"offer_{s.value}" for s in OfferStatus]
    for key in keys:
        assert {"en", "ne"} <= set(CATALOG.get(key, {})), key


def _english_words(text: str, ref: str) -> list[str]:
    """English left in a reply once the commands a wholesaler types (ACCEPT, STATUS…) are removed."""
    rest = re.sub(r"\b(ACCEPT|OFFER|PASS|DISPATCHED|DELIVERED|STATUS|HELP)\b", "", text.replace(ref, ""))
    return re.findall("[A-Za-z]{3,}", rest)


def test_a_nepali_wholesaler_is_refused_in_nepali_and_told_what_was_wrong(market: Database, settings: Settings) -> None:
    order_id, ref = support.place_demo_order(market, settings, "open")
    offers = support.offers_of(market, order_id)
    nepali = party_sender(market, Wholesaler, offers[0].wholesaler_id, "ne")
    with market.session() as s:
        found = s.scalars(select(Wholesaler).where(Wholesaler.id.not_in({o.wholesaler_id for o in offers}))).first()
        outsider = Sender("wholesaler", found.whatsapp_number, found.id, language="ne") if found else None
    replies = {}
    whatsapp(market, settings, nepali, f"PASS {ref}")
    replies["again"] = whatsapp(market, settings, nepali, f"ACCEPT {ref}")
    if outsider is not None:
        replies["not_invited"] = whatsapp(market, settings, outsider, f"OFFER {ref} 4000")
    won, won_ref = support.place_demo_order(market, settings, "selected")  # 2 bora of RICE-JEERA reserved
    winner = winner_sender(market, won, "ne")
    replies["below_reserved"] = whatsapp(market, settings, winner, "STOCK RICE-JEERA 1")
    replies["dispatch_first"] = whatsapp(market, settings, winner, f"DISPATCHED {won_ref}")
    for what, reply in replies.items():
        refs = reply.replace(won_ref, ref).replace("RICE-JEERA", "")
        assert reply and not _english_words(refs, ref), (what, reply)
    # Each named for what it is. Before: the stock refusal was "माफ गर्नुहोस्, त्यो मिलेन…" (the
    # reason only in English), a DISPATCHED before ACCEPT was "cannot be cancelled".
    assert "जवाफ दिइसक्नुभयो" in replies["again"]
    if outsider is not None:
        assert "मागिएको थिएन" in replies["not_invited"]
    with market.session() as s:
        reserved = s.scalars(
            select(WholesalerProduct.reserved_stock)
            .join(Product)
            .where(WholesalerProduct.wholesaler_id == winner.id, Product.sku == "RICE-JEERA")
        ).one()
    assert f"{digits_for(str(reserved.normalize()), 'ne')} अर्डरका लागि रोकिएको" in replies["below_reserved"]
    assert f"ACCEPT {won_ref}" in replies["dispatch_first"] and "रद्द" not in replies["dispatch_first"]
    assert {o.status for o in support.offers_of(market, order_id) if o.wholesaler_id == nepali.id} == {
        OfferStatus.PASSED
    }


# --- typed commands: every intent has a command, every command a handler ------------------------------


def test_every_intent_is_a_command_and_every_command_has_a_handler() -> None:
    for name in INTENTS:
        assert name in commands.NAMES, f"the parser's {name!r} has no command type"
    assert set(commands.NAMES.values()) == set(commands.COMMAND_TYPES)
    for role in ("retailer", "wholesaler"):
        missing = [c.__name__ for c in commands.COMMAND_TYPES if c not in ROUTES[role]]
        assert not missing, f"{role}: no handler for {missing}"
    for name, kind in commands.NAMES.items():
        assert commands.name_of(commands.command_for(_intent(name))) == name
        assert isinstance(commands.command_for(_intent(name)), kind)


def _intent(name: str) -> Intent:
    return Intent(name, order_ref="TK-AB12")


def test_a_command_carries_its_own_facts() -> None:
    offer = commands.command_for(Intent("offer", order_ref="TK-AB12", price=Decimal(4500), delivery_days=1))
    assert offer == commands.Offer("TK-AB12", Decimal(4500), 1)
    paid = commands.command_for(Intent("paid", phone="9841000101", amount=Decimal(500), method="esewa", reference="R1"))
    assert paid == commands.Paid("9841000101", Decimal(500), "esewa", "R1")
    assert commands.command_for(Intent("unknown"), "choose") == commands.Choose()
