# ruff: noqa: F811  (pytest fixtures imported from tests.fake_twilio are "redefined" as arguments)
"""What a webhook request costs besides its INSERT and enqueue: the web edge's per-request work
(bench/webhook_rate.py measures it). Real PostgreSQL and Redis, signed requests."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Response, session
from flask.sessions import NullSession, SecureCookieSession
from sqlalchemy import event, func, select

from bot.app import create_app
from db.models import InboundMessage, PartyIdentity
from db.session import Database
from tests.fake_meta import fake_graph, meta_overrides, post_signed, text_message, webhook_payload  # noqa: F401
from tests.fake_twilio import (  # noqa: F401 (fixtures)
    PUBLIC,
    app,
    fake_twilio,
    jobs,
    signed_headers,
    thok_settings,
    twilio_form,
)
from thok.runtime import redis_for

PATH = "/webhooks/twilio/whatsapp"


def _session_kinds(app: Any) -> list[type]:
    seen: list[type] = []

    @app.after_request
    def note(response: Response) -> Response:
        seen.append(type(session._get_current_object()))  # type: ignore[attr-defined]
        return response

    return seen


def test_a_webhook_opens_no_session_and_sets_no_cookie(app) -> None:
    seen = _session_kinds(app)
    client = app.test_client()
    client.set_cookie("session", "anything-a-client-sends", domain="thok.test")
    form = twilio_form("SM" + "5" * 32)
    resp = client.post(PATH, data=form, headers=signed_headers(PATH, form), base_url=PUBLIC)
    assert resp.status_code == 200
    assert "Set-Cookie" not in resp.headers
    assert seen == [NullSession]  # Flask's null session: a write would raise


def test_other_routes_keep_the_signed_session(app) -> None:
    seen = _session_kinds(app)
    client = app.test_client()
    assert client.get("/healthz", base_url=PUBLIC).status_code == 200
    assert client.get("/dashboard/login", base_url=PUBLIC).status_code == 200
    assert seen == [SecureCookieSession, SecureCookieSession]


def test_security_headers_on_a_webhook_and_a_route_keeps_its_own(app) -> None:
    app.add_url_rule("/own-csp", "own_csp", lambda: ("ok", 200, {"content-security-policy": "default-src 'none'"}))
    client = app.test_client()
    form = twilio_form("SM" + "6" * 32)
    headers = client.post(PATH, data=form, headers=signed_headers(PATH, form), base_url=PUBLIC).headers
    csp = headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'self'; img-src 'self' data:; style-src 'self' 'nonce-") and csp.endswith(
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    )
    assert (headers["X-Frame-Options"], headers["X-Content-Type-Options"]) == ("DENY", "nosniff")
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"  # not dev mode
    own = client.get("/own-csp", base_url=PUBLIC).headers
    assert own.getlist("Content-Security-Policy") == ["default-src 'none'"]  # the route's, alone
    assert own["X-Frame-Options"] == "DENY"


@pytest.fixture
def meta_app(thok_settings: Any, fake_graph: Any, fresh_database: Database, jobs: Any) -> Any:
    return create_app(
        thok_settings.with_overrides(**meta_overrides(fake_graph)), fresh_database, redis_for(thok_settings)
    )


def _checkouts(database: Database) -> list[int]:
    seen: list[int] = []
    event.listen(database.engine, "checkout", lambda *_: seen.append(1))
    return seen


def test_one_pooled_connection_per_message_on_either_edge(app, meta_app, fresh_database) -> None:
    checkouts = _checkouts(fresh_database)
    form = twilio_form("SM" + "7" * 32)
    assert (
        app.test_client().post(PATH, data=form, headers=signed_headers(PATH, form), base_url=PUBLIC).status_code == 200
    )
    assert len(checkouts) == 1
    # Meta: the sender's ids and the message on one connection (two before), each still committed.
    payload = webhook_payload([text_message("wamid.edge1", "+9779841000009", "namaste")])
    assert post_signed(meta_app.test_client(), payload).status_code == 200
    assert len(checkouts) == 2
    with fresh_database.session() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 2
        assert s.scalar(select(func.count()).where(PartyIdentity.value == "9779841000009")) == 1
