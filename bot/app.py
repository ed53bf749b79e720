"""The Flask app factory (configuration, then extensions, then blueprints). No app object is
created at import time, so workers and the CLI import freely and tests build their own."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, Response, current_app, g, render_template
from redis import Redis
from werkzeug.middleware.proxy_fix import ProxyFix

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
    if settings.trusted_proxies > 0:
        # The client's address (sign-in throttling, audit) and scheme come from X-Forwarded-For and
        # -Proto only as far as our own proxies wrote them; anyone can send those headers.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    app.extensions["thok"] = Services(
        settings, database or runtime.database_for(settings), redis or runtime.redis_for(settings)
    )

    from bot import meta_webhook, simulator, webhook  # here, not at the top: they import services() from us
    from dashboard import init_dashboard

    app.register_blueprint(webhook.bp)
    app.register_blueprint(meta_webhook.bp)  # /webhooks/meta/whatsapp: Meta's Cloud API (issue 18)
    app.register_blueprint(simulator.bp)
    csrf = init_dashboard(app)  # sessions, CSRF on every form, the /dashboard blueprint
    # Twilio signs its webhooks and the simulator exists only in dev mode: no browser form to protect.
    csrf.exempt(webhook.bp)
    csrf.exempt(meta_webhook.bp)  # Meta signs its webhooks too (X-Hub-Signature-256)
    csrf.exempt(simulator.bp)

    from bot import health

    app.register_blueprint(health.bp)  # /readyz and /metrics

    from bot import pay, statement

    app.register_blueprint(pay.bp)  # /pay/...: the khata's payment links and the gateways' returns
    app.register_blueprint(statement.bp)  # /statement/<signed token>.pdf: the PDF sent on WhatsApp
    health.install_request_log(app)

    @app.get("/healthz")
    def healthz() -> tuple[dict[str, str], int]:
        return {"status": "ok"}, 200

    install_security_headers(app, hsts=not settings.dev_mode)

    @app.get("/")
    def home() -> str:
        return render_template("home.html", dev_mode=settings.dev_mode)

    return app


def install_security_headers(app: Flask, *, hsts: bool) -> None:
    """On every response (the home page, health, webhooks, the simulator, not only the dashboard).
    Inline <script>/<style> run only with this response's nonce, so an injected one does not."""

    @app.before_request
    def make_nonce() -> None:
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.context_processor
    def nonce() -> dict[str, str]:
        return {"csp_nonce": g.get("csp_nonce", "")}

    @app.after_request
    def security_headers(response: Response) -> Response:
        nonce = g.get("csp_nonce")
        inline = f" 'nonce-{nonce}'" if nonce else ""
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; img-src 'self' data:; style-src 'self'{inline}; script-src 'self'{inline}; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if hsts:  # production is HTTPS only; the demo runs on http://127.0.0.1
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
