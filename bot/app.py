"""The Flask app factory (configuration, then extensions, then blueprints). No app object is
created at import time, so tests build their own. Nothing imports this module but the process that
serves (gunicorn, `thok demo`) and tests: what a request needs comes from `thok.web.services()`."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, Request, Response, g, render_template
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from redis import Redis
from werkzeug.middleware.proxy_fix import ProxyFix

from bot import demo_gateway, health, meta_webhook, pay, simulator, statement, webhook
from dashboard import init_dashboard
from db.session import Database
from thok import runtime
from thok.config import Settings
from thok.logging import configure_logging
from thok.web import EXTENSION, Services

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    redis: Redis | None = None,
    **flask_config: Any,
) -> Flask:
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
    app.session_interface = NoWebhookSessions()
    if settings.trusted_proxies > 0:
        # The client's address (sign-in throttling, audit) and scheme come from X-Forwarded-For and
        # -Proto only as far as our own proxies wrote them; anyone can send those headers.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    app.extensions[EXTENSION] = Services(
        settings, database or runtime.database_for(settings), redis or runtime.redis_for(settings)
    )

    app.register_blueprint(webhook.bp)
    app.register_blueprint(meta_webhook.bp)  # /webhooks/meta/whatsapp: Meta's Cloud API (issue 18)
    app.register_blueprint(simulator.bp)
    csrf = init_dashboard(app)  # sessions, CSRF on every form, the /dashboard blueprint
    # Twilio signs its webhooks and the simulator exists only in dev mode: no browser form to protect.
    csrf.exempt(webhook.bp)
    csrf.exempt(meta_webhook.bp)  # Meta signs its webhooks too (X-Hub-Signature-256)
    csrf.exempt(simulator.bp)

    app.register_blueprint(health.bp)  # /readyz and /metrics
    app.register_blueprint(pay.bp)  # /pay/...: the khata's payment links and the gateways' returns
    app.register_blueprint(statement.bp)  # /statement/<signed token>.pdf: the PDF sent on WhatsApp
    if settings.dev_mode and settings.demo_gateway:  # `thok demo`'s pretend Khalti; never in production
        app.register_blueprint(
            demo_gateway.make_blueprint(app.extensions[EXTENSION].redis, settings.khalti_secret_key or "")
        )
    health.install_request_log(app)

    @app.get("/healthz")
    def healthz() -> tuple[dict[str, str], int]:
        return {"status": "ok"}, 200

    install_security_headers(app, hsts=not settings.dev_mode)

    @app.get("/")
    def home() -> str:
        return render_template("home.html", dev_mode=settings.dev_mode)

    return app


class NoWebhookSessions(SecureCookieSessionInterface):
    """The dashboard's signed cookie session, not opened for a provider's webhook: no session
    cookie comes with one, yet reading it (a signing serializer built per request) and saving it
    were about 4% of a webhook request's CPU. A webhook gets Flask's null session, which refuses
    writes, so nothing there can come to depend on a session by accident."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/webhooks/"):
            return None  # Flask then uses make_null_session
        return super().open_session(app, request)


def install_security_headers(app: Flask, *, hsts: bool) -> None:
    """On every response (the home page, health, webhooks, the simulator, not only the dashboard).
    Inline <script>/<style> run only with this response's nonce, so an injected one does not."""

    @app.before_request
    def make_nonce() -> None:
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.context_processor
    def nonce() -> dict[str, str]:
        return {"csp_nonce": g.get("csp_nonce", "")}

    fixed = [("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin")]
    if hsts:  # production is HTTPS only; the demo runs on http://127.0.0.1
        fixed.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))

    @app.after_request
    def security_headers(response: Response) -> Response:
        nonce = g.get("csp_nonce")
        inline = f" 'nonce-{nonce}'" if nonce else ""
        csp = (
            f"default-src 'self'; img-src 'self' data:; style-src 'self'{inline}; script-src 'self'{inline}; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
        )
        # What the route did not set itself (a page's own CSP stays), in one pass over the headers:
        # five setdefault calls scanned them five times and cost ~65 us a response, 3% of a webhook's.
        present = {name.lower() for name, _ in response.headers.items()}
        response.headers.extend(
            [(name, value) for name, value in [("Content-Security-Policy", csp), *fixed] if name.lower() not in present]
        )
        return response
