"""One use case, three entry points (issue 14): recording a payment, reversing one, setting a
credit limit, registering a party and importing prices tell the same people the same thing and
write the same audit row whether they start on WhatsApp, in the dashboard or in the `thok` CLI.

Each test drives every entry point that offers the action, on its own shop (same names, same
amounts), and compares what each left behind: the outbox rows its notices became (recipient, key,
text) and its audit row (action, entity, before/after; ids that must differ are masked). Where an
entry point does not offer the action, the test says so:

- WhatsApp offers only PAID (a wholesaler records a payment to itself). Reversals, limits,
  registration and price files are Thok's own work: the dashboard and the CLI.
"""

from __future__ import annotations

import io
import itertools
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

from db.models import (
    ActorType,
    Admin,
    AdminAuditLog,
    AuditLog,
    OutboundMessage,
    Retailer,
    RetailerPayment,
    Wholesaler,
    WholesalerProduct,
)
from db.session import Database
from domain.catalog import import_products
from domain.ledger import post_debit
from domain.parties import create_admin, register_retailer, register_wholesaler
from handlers import Sender
from handlers.dispatch import handle_message
from tests.browser import support
from tests.conftest import _create_database, _drop_database, url_with_database
from tests.test_dashboard import login, post
from tests.thok_cli import ThokCli, production_cli
from thok.config import Settings
from usecases import khata
from usecases.actor import Actor
from workers import effects

D = Decimal
ADMIN = ("usecases@thok.local", "use-case-admin-password")
SHOP, OWNER = "Sagarmatha Kirana", "Pemba Sherpa"
_numbers = itertools.count(1)


def number(kind: str = "retailer") -> str:
    return f"{'9841' if kind == 'retailer' else '9851'}7{next(_numbers):05d}"


@pytest.fixture(scope="module")
def uc_db(pg_admin_url: str, db_prefix: str, template_db: str) -> Iterator[Database]:
    name = f"{db_prefix}_usecases"
    _create_database(pg_admin_url, name, template=template_db)
    db = Database(url_with_database(pg_admin_url, name))
    with db.unit_of_work() as uow:
        create_admin(uow.session, *ADMIN)
        products = "sku,name,name_ne,aliases,unit,category\nUC-RICE,Rice,चामल,,kg,grain\nUC-DAL,Dal,दाल,,kg,grain\n"
        import_products(uow.session, products.encode())
        uow.commit()
    yield db
    db.dispose()
    _drop_database(pg_admin_url, name)


@pytest.fixture
def app(settings: Settings, uc_db: Database, redis: Redis) -> Flask:
    return support.build_app(settings, uc_db, redis, TESTING=True)


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert login(client, ADMIN).status_code == 302
    return client


@pytest.fixture
def cli(uc_db: Database, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThokCli]:
    yield from production_cli(monkeypatch, uc_db.url, redis_url)


# --- what an action left behind --------------------------------------------------------------------


def _wholesaler(db: Database, name: str = "Sita") -> tuple[int, str]:
    phone = number("wholesaler")
    with db.unit_of_work() as uow:
        w = register_wholesaler(uow.session, name=name, business_name=f"{name} Traders", phone=phone)
        uow.commit()
        return w.id, phone


def _shop(db: Database, owes: str = "1000", to: int | None = None) -> tuple[int, str]:
    """A shop with NPR 50,000 of credit owing `owes` to wholesaler `to`: every entry point gets one
    alike, so their messages read alike."""
    phone = number()
    with db.unit_of_work() as uow:
        r = register_retailer(uow.session, name=OWNER, shop_name=SHOP, phone=phone, credit_limit=D("50000"))
        uow.session.flush()
        if owes != "0":
            post_debit(
                uow.session,
                retailer_id=r.id,
                amount=D(owes),
                idempotency_key=f"o{r.id}",
                description="o",
                wholesaler_id=to,
            )
        uow.commit()
        return r.id, phone


def _outbox(db: Database, key_prefix: str, mask: str) -> list[tuple[str, str, str]]:
    """The notices one action became: (idempotency key with its id masked, recipient kind, text)."""
    with db.session() as s:
        rows = s.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.idempotency_key.like(f"{key_prefix}%"))
            .order_by(OutboundMessage.id)
        ).all()
        return [
            (
                r.idempotency_key.replace(mask, "<id>"),
                "retailer" if r.retailer_id else "wholesaler" if r.wholesaler_id else "?",
                r.body,
            )
            for r in rows
        ]


def _told(db: Database, *phones: str) -> list[str]:
    with db.session() as s:
        numbers = ["+977" + p for p in phones]
        return list(s.scalars(select(OutboundMessage.body).where(OutboundMessage.to_number.in_(numbers))))


def _masked(value: Any, masks: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: masks.get(k, _masked(v, masks)) if k in masks else _masked(v, masks) for k, v in value.items()}
    return value


def _admin_audit(db: Database, action: str, entity_id: object, masks: dict[str, str] | None = None) -> dict[str, Any]:
    with db.session() as s:
        [row] = s.scalars(
            select(AdminAuditLog).where(AdminAuditLog.action == action, AdminAuditLog.entity_id == str(entity_id))
        ).all()
        admin_id = s.scalars(select(AdminAuditLog.admin_id).where(AdminAuditLog.id == row.id)).one()
        return {
            "who": ("admin", admin_id),
            "action": row.action,
            "entity_type": row.entity_type,
            "before": _masked(row.before, masks or {}),
            "after": _masked(row.after, masks or {}),
            "ip": row.ip_address,
        }


def _party_audit(db: Database, action: str, entity_id: object, masks: dict[str, str] | None = None) -> dict[str, Any]:
    """A non-admin's audit row (audit_logs), in the admin row's shape."""
    with db.session() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action == action)).all()
        [row] = [r for r in rows if r.details and r.details.get("entity_id") == str(entity_id)]
        details = row.details or {}
        return {
            "who": (row.actor_type.value.lower(), row.actor_id),
            "action": row.action,
            "entity_type": details["entity_type"],
            "before": _masked(details["before"], masks or {}),
            "after": _masked(details["after"], masks or {}),
            "via": details["via"],
            "operator": details["operator"],
        }


def _payment_of(db: Database, retailer_id: int) -> int:
    with db.session() as s:
        return s.scalars(select(RetailerPayment.id).where(RetailerPayment.retailer_id == retailer_id)).one()


def _admin_id(db: Database) -> int:
    with db.session() as s:
        return s.scalars(select(Admin.id).where(Admin.email == ADMIN[0])).one()


def _same_but_who(*audits: dict[str, Any]) -> None:
    """The audit rows agree on everything but who acted and from where."""
    core = [{k: v for k, v in a.items() if k not in ("who", "ip", "via", "operator")} for a in audits]
    assert all(c == core[0] for c in core), core


PAYMENT_MASKS = {"payment_id": "<payment>", "entry_id": "<entry>"}


# --- record a payment: WhatsApp (the wholesaler paid), dashboard and CLI (an admin) ------------------


def test_recording_a_payment_tells_the_same_people_and_writes_the_same_audit_from_every_entry_point(
    uc_db: Database, admin: FlaskClient, cli: ThokCli, settings: Settings
) -> None:
    """The bug of issue 14: from WhatsApp the shop was told, from the dashboard nobody (an audit row
    only), from the CLI nobody and no audit row. Now the shop is always told, and the wholesaler
    paid too when Thok (not they) recorded it."""
    w, w_phone = _wholesaler(uc_db)
    by_whatsapp, whatsapp_phone = _shop(uc_db, to=w)
    by_dashboard, _ = _shop(uc_db, to=w)
    by_cli, cli_phone = _shop(uc_db, to=w)

    # WhatsApp: the wholesaler's PAID, through the handlers and the worker's rendering of notices.
    with uc_db.unit_of_work() as uow:
        sender = Sender(kind="wholesaler", phone="+977" + w_phone, id=w, language="en")
        [reply] = handle_message(uow.session, sender, f"PAID {whatsapp_phone} 400 cash", settings)
        effects.collect(uow.session, settings)
        uow.commit()
    assert reply.body == f"Payment of NPR 400 from {SHOP} recorded (Cash). They now owe you NPR 600."
    # The dashboard's khata form, towards what the shop owes this wholesaler.
    done = post(
        admin,
        f"/dashboard/retailers/{by_dashboard}/payments",
        {"amount": "400", "method": "CASH", "wholesaler_id": str(w)},
        follow_redirects=True,
    )
    assert b"Payment recorded: NPR 400" in done.data and b"The shop is told on WhatsApp." in done.data
    # The CLI.
    out = cli("record-payment", cli_phone, "400", "--method", "cash", "--admin", ADMIN[0], "--wholesaler", w_phone)
    assert "outstanding now NPR 600.00" in out.output

    pids = {r: _payment_of(uc_db, r) for r in (by_whatsapp, by_dashboard, by_cli)}
    told = {r: _outbox(uc_db, f"notice:payment:{pid}", str(pid)) for r, pid in pids.items()}
    thok_told = [
        ("notice:payment:<id>", "retailer", "Thok recorded your payment of NPR 400 (Cash). Outstanding now: NPR 600."),
        (
            "notice:payment:<id>:w",
            "wholesaler",
            f"Thok recorded a payment of NPR 400 from {SHOP} to you (Cash). They now owe you NPR 600.",
        ),
    ]
    assert told[by_dashboard] == told[by_cli] == thok_told
    # The wholesaler who recorded it is answered (above), not told again; the shop is told who did.
    assert told[by_whatsapp] == [
        (
            "notice:payment:<id>",
            "retailer",
            "Sita Traders recorded your payment of NPR 400 (Cash). Outstanding now: NPR 600.",
        )
    ]

    audits = {
        "dashboard": _admin_audit(uc_db, "payment.record", by_dashboard, PAYMENT_MASKS),
        "cli": _admin_audit(uc_db, "payment.record", by_cli, PAYMENT_MASKS),
        "whatsapp": _party_audit(uc_db, "payment.record", by_whatsapp, PAYMENT_MASKS),
    }
    _same_but_who(*audits.values())
    assert audits["cli"]["after"] == {
        "payment_id": "<payment>",
        "entry_id": "<entry>",
        "amount": "400.00",
        "method": "CASH",
        "reference": None,
        "wholesaler_id": w,
        "outstanding": "600.00",
    }
    admin_id = _admin_id(uc_db)
    assert (audits["dashboard"]["who"], audits["dashboard"]["ip"]) == (("admin", admin_id), "127.0.0.1")
    assert (audits["cli"]["who"], audits["cli"]["ip"]) == (("admin", admin_id), "cli")
    assert (audits["whatsapp"]["who"], audits["whatsapp"]["via"]) == (("wholesaler", w), "whatsapp")


# --- reverse a payment: dashboard and CLI (WhatsApp does not offer it) --------------------------------


def test_reversing_a_payment_is_the_same_from_the_dashboard_and_the_cli(
    uc_db: Database, admin: FlaskClient, cli: ThokCli
) -> None:
    w, _ = _wholesaler(uc_db)
    shops = [_shop(uc_db, to=w)[0] for _ in range(2)]
    pids = []
    for r in shops:
        with uc_db.unit_of_work() as uow:
            done = khata.record_payment(
                uow.session, Actor.wholesaler(w), retailer_id=r, amount="400", method="cash", reference=None
            )
            uow.session.info.pop("notices", None)  # only the reversal's messages matter here
            uow.commit()
            pids.append(done.payment.id)
    by_dashboard, by_cli = pids
    resp = post(admin, f"/dashboard/retailers/{shops[0]}/payments/{by_dashboard}/reverse", {"reason": "wrong shop"})
    assert resp.status_code == 303
    out = cli("reverse-payment", str(by_cli), "--reason", "wrong shop", "--admin", ADMIN[0])
    assert "outstanding now NPR 1,000.00" in out.output

    told = [_outbox(uc_db, f"notice:payment:{pid}:reversed", str(pid)) for pid in pids]
    assert told[0] == told[1]
    assert [(key, to) for key, to, _ in told[0]] == [
        ("notice:payment:<id>:reversed", "retailer"),
        ("notice:payment:<id>:reversed:w", "wholesaler"),
    ]
    masks = {"credit_entry_id": "<credit>", "entry_id": "<entry>"}
    _same_but_who(*(_admin_audit(uc_db, "payment.reverse", pid, masks) for pid in pids))


# --- credit limits: dashboard and CLI ------------------------------------------------------------------


def test_setting_a_credit_limit_is_audited_alike_from_the_dashboard_and_the_cli(
    uc_db: Database, admin: FlaskClient, cli: ThokCli
) -> None:
    """The CLI used to change the limit with no audit row at all (and its own parsing rule)."""
    w, w_phone = _wholesaler(uc_db)
    (by_dashboard, d_phone), (by_cli, c_phone), (by_operator, o_phone) = (_shop(uc_db, to=w) for _ in range(3))
    for path_data in ({"credit_limit": "60,000"}, {"credit_limit": "5,000", "wholesaler_id": str(w)}):
        resp = post(admin, f"/dashboard/retailers/{by_dashboard}/credit-limit", path_data, follow_redirects=True)
        assert b"Credit limit saved" in resp.data
    cli("set-credit-limit", c_phone, "60,000", "--admin", ADMIN[0])
    cli("set-credit-limit", c_phone, "5,000", "--wholesaler", w_phone, "--admin", ADMIN[0])

    for action in ("credit.set_limit", "credit.set_wholesaler_limit"):
        dashboard, by_command = (_admin_audit(uc_db, action, r) for r in (by_dashboard, by_cli))
        _same_but_who(dashboard, by_command)
        assert by_command["ip"] == "cli"
    assert _admin_audit(uc_db, "credit.set_limit", by_cli)["after"] == {"credit_limit": "60000.00"}
    assert _admin_audit(uc_db, "credit.set_wholesaler_limit", by_cli)["after"] == {
        "wholesaler_id": w,
        "credit_limit": "5000.00",
    }
    # Nobody is messaged about a limit, from either.
    assert _told(uc_db, d_phone, c_phone) == []

    # At the shell with no admin named: still audited, as the operator.
    out = cli("set-credit-limit", o_phone, "70000")
    assert "limit NPR 70,000.00" in out.output
    operator = _party_audit(uc_db, "credit.set_limit", by_operator)
    assert operator["who"] == ("system", None) and operator["via"] == "cli" and operator["operator"]
    assert operator["after"] == {"credit_limit": "70000.00"}
    # A limit below what is owed is refused the same way, and leaves no audit row.
    refused = cli("set-credit-limit", o_phone, "10", ok=False)
    assert refused.exit_code == 1 and "already owed and held" in refused.output
    assert _party_audit(uc_db, "credit.set_limit", by_operator)["after"] == {"credit_limit": "70000.00"}


# --- registering a party: dashboard and CLI --------------------------------------------------------


def test_registering_a_party_is_audited_alike_from_the_dashboard_and_the_cli(
    uc_db: Database, admin: FlaskClient, cli: ThokCli
) -> None:
    d_retailer, c_retailer, d_wholesaler, c_wholesaler = number(), number(), number("w"), number("w")
    form = {"name": OWNER, "display_name": SHOP, "district": "Solukhumbu", "address": "Namche", "language": "ne"}
    assert (
        post(admin, "/dashboard/retailers/new", {**form, "phone": d_retailer, "credit_limit": "20000"}).status_code
        == 303
    )
    assert post(admin, "/dashboard/wholesalers/new", {**form, "phone": d_wholesaler}).status_code == 303
    common = ["--district", "Solukhumbu", "--address", "Namche", "--language", "ne", "--admin", ADMIN[0]]
    out = cli("register-retailer", c_retailer, OWNER, "--shop", SHOP, "--credit-limit", "20000", *common)
    assert "retailer #" in out.output and "+977" + c_retailer in out.output
    cli("register-wholesaler", c_wholesaler, OWNER, "--business", SHOP, *common)

    with uc_db.session() as s:

        def id_of(model: Any, phone: str) -> int:
            return s.scalars(select(model.id).where(model.whatsapp_number == "+977" + phone)).one()

        ids = {
            "retailer": (id_of(Retailer, d_retailer), id_of(Retailer, c_retailer)),
            "wholesaler": (id_of(Wholesaler, d_wholesaler), id_of(Wholesaler, c_wholesaler)),
        }
    for kind, (by_dashboard, by_cli) in ids.items():
        masks = {"whatsapp_number": "<number>"}
        dashboard, by_command = (_admin_audit(uc_db, f"{kind}.create", i, masks) for i in (by_dashboard, by_cli))
        _same_but_who(dashboard, by_command)
        assert by_command["after"]["language"] == "ne" and by_command["after"]["address"] == "Namche"
    assert _admin_audit(uc_db, "retailer.create", ids["retailer"][1])["after"]["credit_limit"] == "20000.00"
    # Nobody is messaged on registration, from either.
    assert _told(uc_db, d_retailer, c_retailer, d_wholesaler, c_wholesaler) == []
    # The same refusal: one live party per number.
    again = cli("register-wholesaler", c_retailer, "Copy", "--admin", ADMIN[0], ok=False)
    assert again.exit_code == 1 and "already registered" in again.output


# --- importing prices: dashboard and CLI -----------------------------------------------------------


def test_importing_prices_is_audited_alike_from_the_dashboard_and_the_cli(
    uc_db: Database, admin: FlaskClient, cli: ThokCli, tmp_path: Path
) -> None:
    """The CLI used to import with no audit row."""
    (by_dashboard, _), (by_cli, c_phone) = _wholesaler(uc_db), _wholesaler(uc_db)
    prices = b"sku,price,stock\nUC-RICE,2100,40\nUC-DAL,180.50,12.5\n"
    resp = post(
        admin,
        f"/dashboard/wholesalers/{by_dashboard}/prices",
        {"file": (io.BytesIO(prices), "prices.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    path = tmp_path / "prices.csv"
    path.write_bytes(prices)
    out = cli("import-prices", c_phone, str(path), "--admin", ADMIN[0])
    assert "2 rows (2 new, 0 updated)" in out.output

    _same_but_who(*(_admin_audit(uc_db, "catalog.import_prices", w) for w in (by_dashboard, by_cli)))
    assert _admin_audit(uc_db, "catalog.import_prices", by_cli)["after"] == {
        "file": "prices.csv",
        "rows": 2,
        "inserted": 2,
        "updated": 0,
    }
    with uc_db.session() as s:
        lines = {
            w: sorted(
                (p.price, p.stock)
                for p in s.scalars(select(WholesalerProduct).where(WholesalerProduct.wholesaler_id == w))
            )
            for w in (by_dashboard, by_cli)
        }
    assert lines[by_dashboard] == lines[by_cli] == [(D("180.50"), D("12.5")), (D("2100.00"), D("40"))]
    # The same refusals: an empty file is named as such, whichever door it came through.
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    refused = cli("import-prices", c_phone, str(empty), "--admin", ADMIN[0], ok=False)
    assert refused.exit_code == 1 and "the file is empty" in refused.output


def test_a_use_case_refuses_an_actor_it_is_not_for(uc_db: Database) -> None:
    """The rules about who may act live in the use case, not in each entry point."""
    w, _ = _wholesaler(uc_db)
    r, _ = _shop(uc_db, to=w)
    with uc_db.session() as s:
        with pytest.raises(Exception, match="only Thok"):
            khata.set_credit_limit(s, Actor.wholesaler(w), r, "100000")
        with pytest.raises(Exception, match="only a Thok admin"):
            khata.reverse_payment(s, Actor.cli_operator("ops"), 1, "x")
        with pytest.raises(Exception, match="recorded by an admin"):
            khata.record_payment(s, Actor.retailer(r), retailer_id=r, amount="1", method="cash", reference=None)
        assert re.fullmatch(r"wholesaler:\d+", Actor.wholesaler(w).source)
        assert Actor(ActorType.SYSTEM, None, "cli", operator="ops").source == "cli:ops"
