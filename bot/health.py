"""What a load balancer, Prometheus and whoever reads the logs need from the web process.

- `/healthz` (in the app factory): the process answers; a 200 that never touches a dependency, so a
  database outage does not make the balancer kill every web process.
- `/readyz`: PostgreSQL and Redis answer and the schema is at the code's migration head; 503 with
  the reasons otherwise, so the balancer stops sending traffic until they are back.
- `/metrics`: Prometheus text, all gunicorn workers summed (multiprocess mode), plus the
  scrape-time gauges (queue depth, inbound backlog, open orders).
- One JSON log line per request.
"""

from __future__ import annotations

import logging
import time
from functools import cache

from alembic.runtime.migration import MigrationContext
from flask import Blueprint, Flask, Response, g, request
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from db.migrate import head_revision
from thok import logging as thok_logging
from thok import metrics
from thok.web import Services, services
from workers.metrics import live_gauges

log = logging.getLogger("thok.web")
bp = Blueprint("health", __name__)

PROBES = ("/healthz", "/readyz", "/metrics")  # polled every few seconds: logged at DEBUG only


@cache
def _head() -> str | None:
    return head_revision()


def _database_revision(svc: Services) -> str | None:
    """The schema's revision, on the app's own pool. After a database restart the pool's first
    connection is dead; SQLAlchemy then invalidates the pool and a second try gets a fresh one."""
    for attempt in (1, 2):
        try:
            with svc.database.engine.connect() as conn:
                conn.execute(text("SET LOCAL statement_timeout = 2000"))
                return MigrationContext.configure(conn).get_current_revision()
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
    raise AssertionError("unreachable")


@bp.get("/readyz")
def readyz() -> tuple[dict[str, object], int]:
    svc = services()
    checks: dict[str, str] = {}
    try:
        revision = _database_revision(svc)
        checks["postgres"] = "ok"
        head = _head()
        checks["migrations"] = (
            "ok" if revision == head else f"database at {revision or 'base'}, code at {head}: run `thok db upgrade`"
        )
    except SQLAlchemyError as exc:
        checks["postgres"] = f"unreachable ({type(exc.orig if isinstance(exc, DBAPIError) else exc).__name__})"
        checks["migrations"] = "unknown (PostgreSQL unreachable)"
    try:
        svc.redis.ping()
        checks["redis"] = "ok"
    except RedisError as exc:
        checks["redis"] = f"unreachable ({type(exc).__name__})"
    ready = all(v == "ok" for v in checks.values())
    if not ready:
        log.warning("not ready: %s", "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok"))
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503


@bp.get("/metrics")
def metrics_endpoint() -> Response:
    svc = services()
    body, content_type = metrics.exposition(live_gauges(svc.database, svc.redis, svc.settings.offer_window_seconds))
    return Response(body, 200, content_type=content_type)


def install_request_log(app: Flask) -> None:
    """One line per request: method, path, status, duration, and whatever the route bound
    (the webhook binds the MessageSid)."""

    @app.before_request
    def _start() -> None:
        g.thok_started = time.perf_counter()
        thok_logging.reset_context(
            request_id=request.headers.get("X-Request-Id") or request.headers.get("I-Twilio-Idempotency-Token")
        )

    @app.after_request
    def _log(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("thok_started", time.perf_counter())
        # Probes, and routes a page polls (the simulator's), set g.quiet_log: DEBUG, not a line a second.
        level = logging.DEBUG if request.path in PROBES or g.get("quiet_log") else logging.INFO
        log.log(
            level,
            "%s %s %d",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
        return response
