"""The admin dashboard: a Flask blueprint under /dashboard (server-rendered, no build step)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect


def init_dashboard(app: Flask) -> CSRFProtect:
    """Sessions, CSRF and the blueprint. Returns the CSRF extension so the factory can exempt the
    blueprints that authenticate otherwise (Twilio's signature, the dev-only simulator)."""
    from dashboard import auth, conversations, identities, payments, views, web  # noqa: F401 - importing registers the routes on the blueprint
    from dashboard.web import bp

    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=12))
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 12 * 3600)  # a form left open all morning still posts
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config.get("SESSION_COOKIE_SECURE", True))
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")

    @app.before_request
    def allow_price_list_uploads() -> None:
        # Registered before CSRFProtect so it runs first: CSRF reads the form, and a price list
        # may be larger than the webhook-sized body limit the app sets for everything else.
        if request.endpoint == "dashboard.import_prices":
            request.max_content_length = views.MAX_UPLOAD_BYTES

    csrf = CSRFProtect(app)
    auth.login_manager.init_app(app)
    app.register_blueprint(bp)

    app.register_error_handler(CSRFError, web.csrf_refused)  # a refused login form, too

    @app.errorhandler(413)
    def too_large(exc: Exception) -> ResponseReturnValue:
        message = f"The upload is too large (at most {views.MAX_UPLOAD_BYTES // 1024 // 1024} MB)."
        return render_template("dashboard/error.html", code=413, message=message, detail=""), 413

    return csrf
