"""Sign-in: argon2 passwords, sessions the server can revoke, attempts throttled per client, roles.

Sessions: the cookie carries a random token and every request looks its `admin_sessions` row up
(domain/admins.py), so signing out, deactivating an admin or changing their password ends the
session on the server; a copied cookie stops working. Flask-Login's "alternative token": the
token, not the admin's id, is what `get_id()` puts in the cookie.

Throttling never lets a stranger lock an admin out by knowing their email: failures are counted in
Redis per (email, client) and per client, in a fixed window; past `MAX_FAILURES_PER_PAIR` or
`MAX_FAILURES_PER_CLIENT` that client is refused until the window ends, before the password is
checked. The admin signs in from their own address meanwhile. The client is `request.remote_addr`,
which believes X-Forwarded-For only through TRUSTED_PROXIES proxies (ProxyFix, bot/app.py).
Failures and each lockout are recorded (email, client) and counted (thok_dashboard_logins_total).

A viewer may look at everything and change nothing: every non-GET request of theirs is refused
with 403 in one place, so a write route added later cannot forget the check.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from flask import Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from dashboard import actions
from dashboard.web import ActionFailed, bp, perform, perform_and_flash, read
from db.models import Admin, AdminRole
from domain import admins
from domain.audit import AdminActor
from domain.parties import check_password
from thok import metrics
from thok.web import services

log = logging.getLogger(__name__)

LOGIN_WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_PAIR = 5  # one email from one client
MAX_FAILURES_PER_CLIENT = 20  # any emails from one client
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_ENDPOINTS = frozenset({"dashboard.login", "dashboard.static"})
# Posts a viewer may make: their own session and their own password.
OWN_ACCOUNT_ENDPOINTS = frozenset({"dashboard.logout", "dashboard.password"})

login_manager = LoginManager()
login_manager.login_view = "dashboard.login"
login_manager.login_message = "Sign in to use the dashboard."
login_manager.login_message_category = "info"
# "basic", not "strong": an admin in the field on mobile data changes IP often, and "strong" would
# sign them out on each change. The session cookie itself is HttpOnly, Secure and SameSite.
login_manager.session_protection = "basic"


@dataclass(frozen=True)
class AdminUser(UserMixin):
    """What a request knows of the signed-in admin: plain values, no ORM row held across requests."""

    id: int  # type: ignore[assignment]
    email: str
    role: AdminRole
    token: str  # the session's, in the cookie instead of the id: revoking the row ends the session

    def get_id(self) -> str:
        return self.token

    @property
    def can_write(self) -> bool:
        return self.role is AdminRole.ADMIN


@login_manager.user_loader
def load_admin(token: str) -> AdminUser | None:
    """Every request: the session's row must be live (not revoked or expired, the admin active)."""
    if not token or len(token) > 128:
        return None
    with services().database.session() as s:
        found = admins.signed_in_admin(s, token)
    return AdminUser(found.admin_id, found.email, found.role, token) if found else None


# --- throttling ----------------------------------------------------------------------------------


def _keys(client: str, email: str) -> tuple[str, str]:
    # Hashed: an email (or a forged address) of any length makes a short key.
    pair = hashlib.sha256(f"{client}\0{email}".encode()).hexdigest()[:32]
    return f"thok:login:client:{client[:64]}", f"thok:login:pair:{pair}"


def locked_seconds(redis: Redis, client: str, email: str) -> int:
    """Seconds until this client may try again (for this email); 0 when it may now."""
    client_key, pair_key = _keys(client, email)
    try:
        with redis.pipeline() as pipe:
            for key in (client_key, pair_key):
                pipe.get(key)
                pipe.ttl(key)
            client_count, client_ttl, pair_count, pair_ttl = pipe.execute()
    except RedisError:
        # Fail open: argon2's cost still slows guessing, and Redis being down must not lock every
        # admin out of the dashboard they would use to see what is wrong.
        log.warning("login rate limit unavailable (Redis down)")
        return 0
    waits = [0]
    if int(client_count or 0) >= MAX_FAILURES_PER_CLIENT:
        waits.append(max(int(client_ttl), 1))
    if int(pair_count or 0) >= MAX_FAILURES_PER_PAIR:
        waits.append(max(int(pair_ttl), 1))
    return max(waits)


def note_failure(redis: Redis, client: str, email: str) -> bool:
    """Count a failure; True when it is the one that starts a lockout (recorded once, not per try)."""
    try:
        with redis.pipeline() as pipe:
            for key in _keys(client, email):
                # The window starts at the first failure: SET NX EX then INCR (which keeps the TTL)
                # works on Redis 6.2, the embedded server's version; EXPIRE NX needs 7.0.
                pipe.set(key, 0, ex=LOGIN_WINDOW_SECONDS, nx=True)
                pipe.incr(key)
            _, client_count, _, pair_count = pipe.execute()
    except RedisError:
        log.warning("login rate limit unavailable (Redis down)")
        return False
    return int(client_count) == MAX_FAILURES_PER_CLIENT or int(pair_count) == MAX_FAILURES_PER_PAIR


def clear_failures(redis: Redis, client: str, email: str) -> None:
    with contextlib.suppress(RedisError):  # the window ends on its own
        redis.delete(_keys(client, email)[1])


def _record_failure(email: str, client: str, *, locked: bool) -> None:
    log.warning(
        "dashboard sign-in %s", "locked" if locked else "failed", extra={"email": email[:254], "client": client}
    )
    try:
        with services().database.unit_of_work() as uow:
            admins.record_login_failure(uow.session, email, client, locked=locked)
            uow.commit()
    except SQLAlchemyError:
        log.exception("could not record the refused sign-in")  # the refusal stands all the same


@functools.cache
def _dummy_hash() -> str:
    # Checked against when the email is unknown, so a wrong email costs as long as a wrong password.
    return PasswordHasher().hash("no such admin, no such password")


def _safe_next(target: str | None) -> str:
    """Only a path inside the dashboard: never an open redirect to another site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/dashboard"):
            return target
    return url_for("dashboard.overview")


# --- the guard every dashboard request passes ----------------------------------------------------


@bp.before_request
def require_login_and_role() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()  # type: ignore[no-any-return]
    if (
        request.method not in SAFE_METHODS
        and request.endpoint not in OWN_ACCOUNT_ENDPOINTS
        and not current_user.can_write
    ):
        abort(403, "Your account is read-only (viewer); ask an admin to make this change.")
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    # Ledgers and phone numbers: not kept by the browser or a proxy. The security headers every
    # response carries are set by the app (bot/app.py).
    if request.endpoint != "dashboard.static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# --- routes --------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("dashboard.overview"))
    if request.method == "GET":
        return render_template("dashboard/login.html", email="", next=request.args.get("next", ""))
    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    client = request.remote_addr or "unknown"
    redis = services().redis
    wait = locked_seconds(redis, client, email)
    if wait:
        metrics.DASHBOARD_LOGINS.labels("locked").inc()
        minutes = math.ceil(wait / 60)
        flash(f"Too many sign-in attempts; try again in {minutes} minute{'s' if minutes != 1 else ''}.", "error")
        return render_template("dashboard/login.html", email=email, next=target), 429
    with services().database.session() as s:
        query = select(Admin).where(Admin.email == email, Admin.is_active.is_(True))
        admin = s.scalars(query).first() if email and len(email) <= 254 else None
        ok = check_password(admin.password_hash if admin else _dummy_hash(), password) and admin is not None
        found = (admin.id, admin.email, admin.role) if ok and admin else None
    if found is None:
        metrics.DASHBOARD_LOGINS.labels("failed").inc()
        locked = note_failure(redis, client, email)
        _record_failure(email, client, locked=False)
        if locked:
            _record_failure(email, client, locked=True)
        flash("Wrong email or password.", "error")
        return render_template("dashboard/login.html", email=email, next=target), 401
    clear_failures(redis, client, email)
    session.clear()  # a fresh session (and CSRF token) for the signed-in admin: no fixation
    _sign_in(*found)
    metrics.DASHBOARD_LOGINS.labels("ok").inc()
    return redirect(_safe_next(target))


def _sign_in(admin_id: int, email: str, role: AdminRole) -> None:
    with services().database.unit_of_work() as uow:
        lifetime = current_app.permanent_session_lifetime
        token = admins.open_session(uow.session, admin_id, request.remote_addr, lifetime)
        # Viewers too: a viewer changes nothing, but who looked at the khata is worth a line.
        actions.record_login(uow.session, AdminActor(admin_id, request.remote_addr))
        uow.commit()
    session.permanent = True  # the cookie ends with the server's row, not at some browser's whim
    login_user(AdminUser(admin_id, email, role, token))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    if current_user.is_authenticated:
        with services().database.unit_of_work() as uow:
            admins.revoke_session(uow.session, current_user.token)
            uow.commit()
    logout_user()
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("dashboard.login"))


@bp.route("/password", methods=["GET", "POST"])
def password() -> ResponseReturnValue:
    """The signed-in admin's own password. Every session of theirs ends (a cookie someone copied,
    another device); this browser gets a new one."""
    if request.method == "GET":
        return render_template("dashboard/password.html")
    new, repeated = request.form.get("new_password", ""), request.form.get("repeat_password", "")
    if new != repeated:
        flash("The two new passwords differ.", "error")
        return render_template("dashboard/password.html"), 400
    me = current_user
    try:
        perform(admins.change_password, me.id, new, request.form.get("current_password", ""))
    except ActionFailed as exc:
        flash(exc.message, "error")
        return render_template("dashboard/password.html"), exc.status
    session.clear()
    _sign_in(me.id, me.email, me.role)
    flash("Password changed; every other session of yours is signed out.", "info")
    return redirect(url_for("dashboard.overview"))


@bp.get("/admins")
def admin_accounts() -> ResponseReturnValue:
    return render_template(
        "dashboard/admins.html", admins=read(admins.admin_list), failures=read(admins.recent_login_failures)
    )


@bp.post("/admins/<int:admin_id>/deactivate")
def deactivate(admin_id: int) -> ResponseReturnValue:
    """Admins only (the guard refuses viewers): the account stops signing in, its sessions end."""
    perform_and_flash("Deactivated; their sessions are signed out.", admins.deactivate_admin, admin_id)
    return redirect(url_for("dashboard.admin_accounts"))
