"""The dashboard blueprint and what every route shares: the signed-in admin, the unit of work that
commits an admin's change with its messages, and the mapping of domain errors to flashes and 4xx."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, render_template, request
from flask import session as flask_session
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError

from domain.audit import AdminActor
from domain.errors import DomainError, NotFound
from thok.web import services
from workers import effects

log = logging.getLogger(__name__)

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

T = TypeVar("T")


def actor() -> AdminActor:
    return AdminActor(int(current_user.id), request.remote_addr)


class ActionFailed(Exception):
    """A refused admin change, already rolled back; `message` is for the flash."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def perform(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one admin change in one transaction: `fn(session, actor, ...)` does the change and its
    audit row; the notices it recorded become outbox rows before the commit (so a cancellation and
    the message about it commit together), and the sends and timers are queued after it."""
    db = services().database
    try:
        with db.unit_of_work() as uow:
            result = fn(uow.session, actor(), *args, **kwargs)
            done = effects.collect(uow.session, services().settings)
            uow.commit()
        # Read-your-writes: this admin's next pages read the replica only once it has replayed
        # this commit (db/replica.py); the position travels in their signed session cookie.
        lsn = db.last_write_lsn()
        if lsn:
            flask_session["lsn"] = lsn
    except NotFound as exc:
        raise ActionFailed(str(exc), 404) from None
    except DomainError as exc:
        raise ActionFailed(str(exc)) from None
    except IntegrityError as exc:
        # The database's own guards caught a race the checks above could not see.
        log.warning("dashboard change refused by the database: %s", exc.orig)
        raise ActionFailed("someone changed this at the same time; reload the page and try again", 409) from None
    after_commit(done)
    return result


def after_commit(done: effects.Effects) -> None:
    """Queue the sends and timers with this app's Redis and settings (not the job context's,
    which a web process would otherwise build a second time from the environment)."""
    svc = services()
    effects.apply(done, svc.redis, svc.settings)


def read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a read query in a read-only session (the replica when it may serve); unknown ids are a 404, bad
    filters a 400 with the domain's message. The rows are detached before the rollback (which
    would expire them), so the template reads what the query loaded, and nothing more."""
    # Lists, charts and details read the replica when one is set and has caught up with this
    # admin's last write; else the primary (see `perform`).
    with services().database.read_session(after_lsn=flask_session.get("lsn")) as session:
        try:
            result = fn(session, *args, **kwargs)
        except NotFound as exc:
            abort(404, str(exc))
        except DomainError as exc:
            abort(400, str(exc))
        session.expunge_all()
        return result


def flash_failure(exc: ActionFailed) -> None:
    flash(exc.message, "error")


def perform_and_flash(done: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """An admin change whose only answer is a flash: `done` when it commits, the reason if refused."""
    try:
        perform(fn, *args, **kwargs)
        flash(done, "ok")
    except ActionFailed as exc:
        flash_failure(exc)


def form_text(name: str, default: str = "") -> str:
    value = request.form.get(name, default)
    return value if isinstance(value, str) else default


def form_id(name: str) -> int | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ActionFailed(f"{name} {raw!r} is not an id") from None


CSRF_REFUSED = "This form expired or did not come from this site; reload the page and try again."


@bp.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> tuple[str, int]:
    return render_template("dashboard/error.html", code=400, message=CSRF_REFUSED, detail=exc.description), 400


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(405)
def error_page(exc: Any) -> tuple[str, int]:
    if isinstance(exc, CSRFError):  # the blueprint's 400 handler is found before the app's CSRF one
        return csrf_refused(exc)
    code = int(getattr(exc, "code", 500) or 500)
    return render_template("dashboard/error.html", code=code, message=exc.description, detail=""), code
