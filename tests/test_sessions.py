"""Dashboard sessions the server can revoke, sign-in throttling per client behind trusted proxies,
refused sign-ins on record, and the security headers every response carries."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from redis import Redis
from sqlalchemy import select, text

from db.models import AdminAuditLog, AdminSession, LoginFailure
from db.session import Database
from domain.admins import prune_sign_in_records
from domain.parties import create_admin
from tests.browser import support
from tests.conftest import _create_database, _drop_database, url_with_database
from thok.config import Settings


@pytest.fixture(scope="module")
def sessions_db(pg_admin_url: str, db_prefix: str, template_db: str) -> Iterator[Database]:
    name = f"{db_prefix}_sessions"
    _create_database(pg_admin_url, name, template=template_db)
    db = Database(url_with_database(pg_admin_url, name))
    support.seed(db)
    yield db
    db.dispose()
    _drop_database(pg_admin_url, name)


@pytest.fixture
def app(settings: Settings, sessions_db: Database, redis: Redis) -> Flask:
    return support.build_app(settings, sessions_db, redis, TESTING=True)


_admins = iter(range(1000))


@pytest.fixture
def someone(sessions_db: Database) -> tuple[str, str]:
    """An admin of this test's own, so revoking their sessions touches no other test."""
    email, password = f"ops{next(_admins)}@thok.local", "a-long-password-1"
    with sessions_db.unit_of_work() as uow:
        create_admin(uow.session, email, password)
        uow.commit()
    return email, password


def login(client: FlaskClient, who: tuple[str, str], ip: str = "10.0.0.1", **kw: Any) -> Any:
    token = support.csrf_token(client.get("/dashboard/login").get_data(as_text=True))
    return client.post(
        "/dashboard/login",
        data={"email": who[0], "password": who[1], "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
        **kw,
    )


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None) -> Any:
    token = support.csrf_token(client.get("/dashboard/").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **(data or {})})


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of the client's session cookie (stolen, or left behind)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def signed_in(client: FlaskClient) -> bool:
    resp = client.get("/dashboard/")
    assert resp.status_code in (200, 302)
    return resp.status_code == 200


def logins(outcome: str) -> float:
    return REGISTRY.get_sample_value("thok_dashboard_logins_total", {"outcome": outcome}) or 0.0


# --- sessions ------------------------------------------------------------------------------------


def test_signing_out_ends_the_session_for_a_copied_cookie_too(app: Flask, someone: tuple[str, str]) -> None:
    """Before: the cookie was the session, so a copy kept working after sign-out."""
    client = app.test_client()
    assert login(client, someone).status_code == 302
    thief = copy_of(app, client)
    assert signed_in(thief)
    assert post(client, "/dashboard/logout").status_code == 302
    assert not signed_in(thief)
    assert not signed_in(client)


def test_the_cookie_holds_a_token_the_database_keeps_only_hashed(
    app: Flask, someone: tuple[str, str], sessions_db: Database
) -> None:
    client = app.test_client()
    assert login(client, someone, ip="10.4.4.4").status_code == 302
    with client.session_transaction() as flask_session:
        token = flask_session["_user_id"]
    with sessions_db.session() as s:
        row = s.scalars(
            select(AdminSession).where(AdminSession.token_hash == hashlib.sha256(token.encode()).hexdigest())
        ).one()
        assert row.client_ip == "10.4.4.4" and row.revoked_at is None
        assert s.scalar(text("SELECT count(*) FROM admin_sessions WHERE token_hash = :t"), {"t": token}) == 0
        # Past its lifetime the row no longer signs anyone in, whatever the cookie says.
        expire = "UPDATE admin_sessions SET created_at = now() - interval '2 days', expires_at = now() - interval '1 s'"
        s.execute(text(expire + " WHERE id = :i"), {"i": row.id})
        s.commit()
    assert not signed_in(client)


def test_deactivating_an_admin_ends_their_sessions_at_once(
    app: Flask, someone: tuple[str, str], sessions_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a deactivated admin was refused at the next sign-in, but an open session (or a copy
    of its cookie) went on until it expired."""
    from thok import runtime
    from thok.cli import main

    laptop, phone = app.test_client(), app.test_client()
    assert login(laptop, someone).status_code == 302 and login(phone, someone).status_code == 302
    monkeypatch.setenv("DATABASE_URL", sessions_db.url)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    runtime.settings.cache_clear()
    try:
        res = CliRunner().invoke(main, ["deactivate-admin", someone[0].upper()])
    finally:
        runtime.settings.cache_clear()
    assert res.exit_code == 0, res.output
    assert f"{someone[0]}: 2 sessions signed out, deactivated" in res.output
    assert not signed_in(laptop) and not signed_in(phone)
    assert login(app.test_client(), someone).status_code == 401
    with sessions_db.session() as s:
        audit = s.scalars(select(AdminAuditLog).where(AdminAuditLog.action == "admin.deactivate")).all()
        assert any(a.after == {"is_active": False, "sessions_revoked": 2} for a in audit)


def test_an_admin_deactivates_another_from_the_dashboard_and_not_themselves(
    app: Flask, someone: tuple[str, str], sessions_db: Database
) -> None:
    victim = app.test_client()
    assert login(victim, someone).status_code == 302
    boss = app.test_client()
    assert login(boss, support.ADMIN).status_code == 302
    page = boss.get("/dashboard/admins")
    assert page.status_code == 200 and someone[0].encode() in page.data
    with sessions_db.session() as s:
        ids = {email: i for email, i in s.execute(text("SELECT email, id FROM admins"))}
    refused = post(boss, f"/dashboard/admins/{ids[support.ADMIN[0]]}/deactivate")
    assert refused.status_code == 302
    assert b"cannot deactivate yourself" in boss.get("/dashboard/admins").data
    assert signed_in(boss)
    assert post(boss, f"/dashboard/admins/{ids[someone[0]]}/deactivate").status_code == 302
    assert not signed_in(victim)
    viewer = app.test_client()
    assert login(viewer, support.VIEWER).status_code == 302
    assert post(viewer, f"/dashboard/admins/{ids[support.ADMIN[0]]}/deactivate").status_code == 403
    assert signed_in(boss)


def test_changing_a_password_signs_out_every_other_session(
    app: Flask, someone: tuple[str, str], sessions_db: Database
) -> None:
    laptop, phone = app.test_client(), app.test_client()
    assert login(laptop, someone).status_code == 302 and login(phone, someone).status_code == 302
    copied = copy_of(app, laptop)
    refused = post(
        laptop,
        "/dashboard/password",
        {"current_password": "wrong-one-1", "new_password": "x" * 12, "repeat_password": "x" * 12},
    )
    assert refused.status_code == 400 and b"current password is wrong" in refused.data
    assert signed_in(phone)  # a refused change ends nothing
    new = "a-brand-new-password"
    resp = post(
        laptop, "/dashboard/password", {"current_password": someone[1], "new_password": new, "repeat_password": new}
    )
    assert resp.status_code == 302
    assert signed_in(laptop)  # this browser carries on with a new session
    assert not signed_in(phone) and not signed_in(copied)  # the others, and the copy, do not
    assert login(app.test_client(), someone).status_code == 401
    assert login(app.test_client(), (someone[0], new)).status_code == 302
    with sessions_db.session() as s:
        assert s.scalars(select(AdminAuditLog.after).where(AdminAuditLog.action == "admin.password")).all()[-1] == {
            "sessions_revoked": 2
        }


def test_a_viewer_may_change_their_own_password(app: Flask, sessions_db: Database) -> None:
    client = app.test_client()
    with sessions_db.unit_of_work() as uow:
        from db.models import AdminRole

        create_admin(uow.session, "looker@thok.local", "looker-password-1", AdminRole.VIEWER)
        uow.commit()
    assert login(client, ("looker@thok.local", "looker-password-1")).status_code == 302
    data = {
        "current_password": "looker-password-1",
        "new_password": "looker-password-2",
        "repeat_password": "looker-password-2",
    }
    assert post(client, "/dashboard/password", data).status_code == 302
    assert post(client, "/dashboard/retailers/new", {"name": "x"}).status_code == 403  # still a viewer


# --- throttling and its record -------------------------------------------------------------------


def test_failures_and_the_lockout_are_recorded_and_counted(
    app: Flask, someone: tuple[str, str], sessions_db: Database
) -> None:
    failed, locked = logins("failed"), logins("locked")
    client = app.test_client()
    for _ in range(5):
        assert login(client, (someone[0], "guess-guess-1"), ip="10.6.6.6").status_code == 401
    for _ in range(3):
        assert login(client, someone, ip="10.6.6.6").status_code == 429
    assert logins("failed") - failed == 5 and logins("locked") - locked == 3
    with sessions_db.session() as s:
        rows = s.execute(
            select(LoginFailure.outcome, LoginFailure.client_ip).where(LoginFailure.email == someone[0])
        ).all()
    # Each failure, and the lockout once when it begins (not every refused try: a row per try
    # would let a locked-out client fill the table).
    assert sorted(rows) == [("FAILED", "10.6.6.6")] * 5 + [("LOCKED", "10.6.6.6")]
    admin = app.test_client()
    assert login(admin, support.ADMIN).status_code == 302
    page = admin.get("/dashboard/admins").get_data(as_text=True)
    refused = page.split("Refused sign-ins", 1)[1]
    assert someone[0] in refused and "10.6.6.6" in refused and "lockout" in refused


def test_a_forged_forwarded_for_is_ignored_without_trusted_proxies(app: Flask, someone: tuple[str, str]) -> None:
    client = app.test_client()
    for i in range(5):
        headers = {"X-Forwarded-For": f"192.0.2.{i}"}  # a new "client" each try, as an attacker would
        assert login(client, (someone[0], "guess-guess-1"), ip="10.7.7.7", headers=headers).status_code == 401
    assert login(client, someone, ip="10.7.7.7", headers={"X-Forwarded-For": "192.0.2.99"}).status_code == 429


def test_behind_trusted_proxies_the_client_is_the_forwarded_address(
    settings: Settings, sessions_db: Database, redis: Redis, someone: tuple[str, str]
) -> None:
    """Before: behind a proxy every admin was the proxy's address: one attacker's failures locked
    out everyone behind it, and the audit named the proxy."""
    app = support.build_app(settings.with_overrides(trusted_proxies=1), sessions_db, redis, TESTING=True)
    proxy = "10.8.8.8"
    client = app.test_client()
    for _ in range(5):
        # The attacker's own X-Forwarded-For entry comes first; our proxy appends what it saw.
        forwarded = {"X-Forwarded-For": "203.0.113.1, 198.51.100.7"}
        assert login(client, (someone[0], "guess-guess-1"), ip=proxy, headers=forwarded).status_code == 401
    assert login(client, someone, ip=proxy, headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 429
    assert login(app.test_client(), someone, ip=proxy, headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 302
    with sessions_db.session() as s:
        clients = set(s.scalars(select(LoginFailure.client_ip).where(LoginFailure.email == someone[0])))
    assert clients == {"198.51.100.7"}


# --- headers and the home page -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/healthz", "/dashboard/login", "/simulator", "/webhooks/twilio/whatsapp"])
def test_every_response_carries_the_security_headers(app: Flask, path: str) -> None:
    """Before: only /dashboard responses had them."""
    resp = app.test_client().get(path)
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_demo_runs_on_http_without_hsts_and_inline_code_needs_the_nonce(
    settings: Settings, sessions_db: Database, redis: Redis
) -> None:
    app = support.build_app(settings.with_overrides(dev_mode=True), sessions_db, redis, TESTING=True)
    page = app.test_client().get("/simulator")
    assert page.status_code == 200 and "Strict-Transport-Security" not in page.headers
    csp = page.headers["Content-Security-Policy"]
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'<script nonce="{nonce}">' in page.get_data(as_text=True)
    assert "unsafe-inline" not in csp
    assert nonce not in app.test_client().get("/simulator").headers["Content-Security-Policy"]  # one per response


def test_the_production_home_page_does_not_offer_the_simulator(
    app: Flask, settings: Settings, sessions_db: Database, redis: Redis
) -> None:
    home = app.test_client().get("/")
    assert home.status_code == 200 and b"/simulator" not in home.data and b"/dashboard/" in home.data
    assert app.test_client().get("/simulator").status_code == 404
    demo = support.build_app(settings.with_overrides(dev_mode=True), sessions_db, redis, TESTING=True)
    assert b"/simulator" in demo.test_client().get("/").data


def test_old_sign_in_records_are_pruned_and_live_sessions_kept(session: Any) -> None:
    """admin_sessions and login_failures no longer only grow: the hourly housekeeping job deletes
    sessions that ended over 90 days ago and refused sign-ins as old; a live session stays."""
    admin = create_admin(session, "prune@thok.local", "a-long-password-1")
    session.flush()
    rows = {  # token -> (created, expires, revoked), as SQL intervals before now()
        "live": ("1 hour", "-11 hours", None),
        "expired-long-ago": ("101 days", "100 days", None),
        "revoked-long-ago": ("100 days", "-1 day", "95 days"),  # revoked before it would have expired
        "expired-lately": ("11 days", "10 days", None),
    }
    for token, (created, expires, revoked) in rows.items():
        session.execute(
            text(
                "INSERT INTO admin_sessions (admin_id, token_hash, created_at, expires_at, revoked_at) "
                "VALUES (:a, :t, now() - CAST(:c AS interval), now() - CAST(:e AS interval), "
                "now() - CAST(:r AS interval))"
            ),
            {"a": admin.id, "t": token, "c": created, "e": expires, "r": revoked},
        )
    for email, age in (("old@x.np", "91 days"), ("new@x.np", "1 day")):
        session.execute(
            text(
                "INSERT INTO login_failures (email, client_ip, outcome, created_at) "
                "VALUES (:m, '10.0.0.1', 'FAILED', now() - CAST(:g AS interval))"
            ),
            {"m": email, "g": age},
        )

    assert prune_sign_in_records(session) == (2, 1)
    assert set(session.scalars(select(AdminSession.token_hash).where(AdminSession.admin_id == admin.id))) == {
        "live",
        "expired-lately",
    }
    assert set(session.scalars(select(LoginFailure.email))) >= {"new@x.np"}
    assert "old@x.np" not in set(session.scalars(select(LoginFailure.email)))
