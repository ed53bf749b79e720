"""The Flask app factory (configuration, then extensions, then blueprints). No app object is
created at import time, so workers and the CLI import freely and tests build their own."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, current_app, render_template
from redis import Redis

from db.session import Database
from thok.config import Settings
from thok.logging import configure_logging

log = logging.getLogger(__name__)


class Services:
    """What a request needs, built once per process."""

    def __init__(self, settings: Settings, database: Database, redis: Redis):
        self.settings = settings
        self.database = database
        self.redis = redis


def services() -> Services:
    return current_app.extensions["thok"]  # type: ignore[no-any-return]


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    redis: Redis | None = None,
    **flask_config: Any,
) -> Flask:
    from thok import runtime

    settings = settings or runtime.settings()
    configure_logging(settings.log_level, settings.log_format)
    settings.require_production()
    if settings.dev_mode and not settings.twilio_auth_token:
        log.warning("DEV MODE: Twilio signatures are NOT checked; never expose this server publicly")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=settings.max_body_bytes * 4,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.dev_mode,
    )
    app.config.update(flask_config)
    app.extensions["thok"] = Services(
        settings, database or runtime.database_for(settings), redis or runtime.redis_for(settings)
    )

    from bot import simulator, webhook  # here, not at the top: they import services() from us
    from dashboard import init_dashboard

    app.register_blueprint(webhook.bp)
    app.register_blueprint(simulator.bp)
    csrf = init_dashboard(app)  # sessions, CSRF on every form, the /dashboard blueprint
    # Twilio signs its webhooks and the simulator exists only in dev mode: no browser form to protect.
    csrf.exempt(webhook.bp)
    csrf.exempt(simulator.bp)

    from bot import health

    app.register_blueprint(health.bp)  # /readyz and /metrics
    health.install_request_log(app)

    @app.get("/healthz")
    def healthz() -> tuple[dict[str, str], int]:
        return {"status": "ok"}, 200

    @app.get("/")
    def home() -> str:
        return render_template("home.html", dev_mode=settings.dev_mode)

    return app
