"""Bad input to the dashboard gets a 400 (or a form error) naming the field, never a 500.

The property test enumerates every dashboard route from Flask's url_map (a route added later is
covered without touching this file) and every field name the templates and views use, and sends
random and hostile values as a signed-in admin. CSRF is off in this app only so the values reach
the routes' own checks (the CSRF refusal is tested in test_dashboard.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from redis import Redis
from sqlalchemy import select
from werkzeug.routing import Rule

from db.models import Retailer, Wholesaler
from db.session import Database
from domain.parties import register_retailer, register_wholesaler
from tests.browser import support
from tests.conftest import ROOT, _create_database, _drop_database, url_with_database
from thok.config import Settings

DASHBOARD = ROOT / "dashboard"
_PLACEHOLDER = re.compile(r"<(?:([a-zA-Z_]+)(?:\(([^)]*)\))?:)?([a-zA-Z_]+)>")


def _field_names() -> list[str]:
    """Every form field and query parameter the dashboard names: in its templates and its code."""
    names: set[str] = set()
    for path in [*DASHBOARD.glob("templates/**/*.html"), *DASHBOARD.glob("*.py")]:
        source = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'name="([a-z_]+)"', source))
        names |= set(re.findall(r'(?:args|form|files)\.get\(\s*"([a-z_]+)"', source))
        names |= set(re.findall(r'form_(?:text|id)\(\s*"([a-z_]+)"', source))
    return sorted(names - {"csrf_token", "viewport"})


FIELDS = _field_names()

HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "Sita\x00Kirana",
        "9" * 20,  # beyond 64 bits
        "-" + "9" * 30,
        "18446744073709551616",
        "9223372036854775808",
        "-1",
        "0",
        "1e309",
        "1e30",
        "NaN",
        "Infinity",
        "0.0000001",
        "9999-12-31",
        "0001-01-01",
        "2026-02-30",
        "10000-01-01",
        "2083-13",
        "२०८३-०८",
        "x" * 5000,
        "क" * 3000,
        "TK-" + "Z" * 60,
        "~",
        "9999-12-31T23:59:59~1",
        "2026-01-01T00:00:00+00:00~99999999999999999999",
        "whatsapp:+9779841000001",
        "+9779841000101",
        "PENDING_OFFERS",
        "DELIVERED",
        "esewa",
        "ne",
        "on",
    ]
)
VALUES = st.one_of(
    HOSTILE,
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
    st.text(max_size=60),
)
PARAMS = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6)


def _dashboard_rules(app: Flask) -> list[Rule]:
    return sorted(
        (
            r
            for r in app.url_map.iter_rules()
            if r.endpoint.startswith("dashboard.") and r.endpoint != "dashboard.static"
        ),
        key=lambda r: (r.rule, r.endpoint),
    )


def _path_value(converter: str | None, args: str | None) -> st.SearchStrategy[str]:
    if converter == "int":
        return st.integers(min_value=0, max_value=2**70).map(str)
    if converter == "any":
        return st.sampled_from([a.strip().strip("'\"") for a in (args or "").split(",")])
    return st.text(st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1, max_size=40)


@st.composite
def requests(draw: Any, rules: list[Rule]) -> tuple[str, str, str, dict[str, str], dict[str, str]]:
    rule = draw(st.sampled_from(rules))
    path = _PLACEHOLDER.sub(lambda m: quote(draw(_path_value(m.group(1), m.group(2))), safe=""), rule.rule)
    method = draw(st.sampled_from(sorted((rule.methods or set()) & {"GET", "POST"})))
    return rule.endpoint, method, path, draw(PARAMS), draw(PARAMS) if method == "POST" else {}


settings_for_property = hypothesis_settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def input_db(pg_admin_url: str, db_prefix: str, template_db: str) -> Iterator[Database]:
    name = f"{db_prefix}_dashboard_input"
    _create_database(pg_admin_url, name, template=template_db)
    db = Database(url_with_database(pg_admin_url, name))
    support.seed(db)
    yield db
    db.dispose()
    _drop_database(pg_admin_url, name)


@pytest.fixture
def app(settings: Settings, input_db: Database, redis: Redis) -> Flask:
    return support.build_app(settings, input_db, redis, TESTING=True, WTF_CSRF_ENABLED=False)


def _signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    resp = client.post("/dashboard/login", data={"email": support.ADMIN[0], "password": support.ADMIN[1]})
    assert resp.status_code == 302
    return client


def test_every_dashboard_route_answers_random_input_without_a_500(app: Flask) -> None:
    rules = _dashboard_rules(app)
    assert len(rules) >= 20 and "reason" in FIELDS and "credit_limit" in FIELDS
    client = _signed_in(app)
    seen: set[str] = set()

    def check(request: tuple[str, str, str, dict[str, str], dict[str, str]]) -> None:
        nonlocal client
        endpoint, method, path, query, form = request
        seen.add(endpoint)
        # TESTING propagates exceptions: an unhandled one fails here with its traceback.
        resp = client.open(path, method=method, query_string=query, data=form)
        assert resp.status_code < 500, (endpoint, method, path, query, form, resp.status_code)
        if (
            endpoint in ("dashboard.logout", "dashboard.password")
            or resp.status_code == 302
            and "/login" in (resp.headers.get("Location") or "")
        ):
            client = _signed_in(app)  # signed out by the request itself: sign in again

    # Every route gets its share of the examples: sampling one strategy over all routes left a few
    # routes unvisited in some runs.
    per_route = hypothesis_settings(settings_for_property, max_examples=max(10, 400 // len(rules)))
    for rule in rules:
        per_route(given(requests([rule]))(check))()
    assert seen == {r.endpoint for r in rules}


# --- each kind of bad value gets a 400 naming the field ------------------------------------------


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    return _signed_in(app)


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/dashboard/orders", {"from": "9999-12-31"}, "from"),
        ("/dashboard/orders", {"to": "0001-01-01"}, "to"),
        ("/dashboard/orders", {"retailer_id": "99999999999999999999"}, "retailer_id"),
        ("/dashboard/orders", {"ref": "TK-\x00"}, "ref"),
        ("/dashboard/orders", {"after": "9999-12-31T23:59:59~1"}, "after"),
        ("/dashboard/audit", {"from": "2026-01-01", "to": "99999-01-01"}, "to"),
        ("/dashboard/retailers", {"q": "x" * 5000}, "q"),
        ("/dashboard/orders/99999999999999999999", {}, "order_id"),
    ],
)
def test_a_bad_query_value_is_a_400_naming_the_field(
    admin: FlaskClient, path: str, query: dict[str, str], field: str
) -> None:
    resp = admin.get(path, query_string=query)
    assert resp.status_code == 400, resp.status_code
    assert field in resp.get_data(as_text=True)


def test_a_bad_form_value_is_refused_naming_the_field_and_nothing_changes(
    admin: FlaskClient, input_db: Database
) -> None:
    form = {"name": "N" * 201, "phone": "9841777001", "district": "Kathmandu"}
    resp = admin.post("/dashboard/retailers/new", data=form)
    assert resp.status_code == 400 and "name" in resp.get_data(as_text=True)
    resp = admin.post("/dashboard/retailers/new", data={**form, "name": "Gita", "district": "D\x00"})
    assert resp.status_code == 400 and "district" in resp.get_data(as_text=True)
    with input_db.session() as s:
        assert s.scalars(select(Retailer.id).where(Retailer.whatsapp_number == "+9779841777001")).first() is None


def test_an_admin_cannot_give_a_retailer_a_wholesalers_number(admin: FlaskClient, input_db: Database) -> None:
    with input_db.unit_of_work() as uow:
        wholesaler = register_wholesaler(uow.session, name="Hari", phone="9851777002")
        retailer = register_retailer(uow.session, name="Gita", phone="9841777003")
        ids = wholesaler.id, retailer.id
        uow.commit()
    resp = admin.post(f"/dashboard/retailers/{ids[1]}/edit", data={"name": "Gita", "phone": "9851777002"})
    assert resp.status_code == 303
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "+9779851777002 is already registered as a wholesaler" in page
    resp = admin.post("/dashboard/retailers/new", data={"name": "Copy", "phone": "+9779851777002"})
    assert resp.status_code == 400 and "+9779851777002 is already registered as a wholesaler" in resp.get_data(
        as_text=True
    )
    with input_db.session() as s:
        assert s.scalars(select(Wholesaler.whatsapp_number).where(Wholesaler.id == ids[0])).one() == "+9779851777002"
        assert s.scalars(select(Retailer.whatsapp_number).where(Retailer.id == ids[1])).one() == "+9779841777003"
