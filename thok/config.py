"""All configuration, read from the environment in one place.

Nothing else in Thok reads `os.environ` for settings: entrypoints call `load_settings()` once and
pass the result on. Missing production settings fail at start with one line naming the variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from db import urls as db_urls


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


def to_psycopg_url(url: str) -> str:
    """db.urls' rule (the one place it is written), refusing as a ConfigError at start-up."""
    try:
        return db_urls.to_psycopg_url(url)
    except db_urls.BadDatabaseUrl as exc:
        raise ConfigError(str(exc)) from None


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number (got {raw!r})") from None


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number (got {raw!r})") from None


def _choice(env: dict[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    for option in allowed:
        if raw.lower() == option.lower():
            return option
    raise ConfigError(f"{name} must be one of {', '.join(allowed)} (got {raw!r})")


def _int_list(env: dict[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated whole numbers (got {raw!r})") from None


# What each production process cannot run without. The embedded servers are for the demo (dev
# mode) and tests, so every process needs real DATABASE_URL and REDIS_URL; a worker without Twilio
# would "send" every reply to the simulator and mark it SENT.
SERVER_NEEDS = ("DATABASE_URL", "REDIS_URL")
WORKER_NEEDS = (*SERVER_NEEDS, "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM")
WEB_NEEDS = (*WORKER_NEEDS, "SECRET_KEY")  # the auth token checks Twilio's signatures
# With WHATSAPP_PROVIDER=meta the Twilio names above stand for Meta's: a worker sends through the
# Graph API (token, number id, URL); the web also checks signatures (app secret) and answers the
# subscription handshake (verify token).
TWILIO_NEEDS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM")
META_WORKER_NEEDS = ("META_ACCESS_TOKEN", "META_PHONE_NUMBER_ID", "META_GRAPH_URL")
META_WEB_NEEDS = ("META_APP_SECRET", "META_VERIFY_TOKEN")
WHATSAPP_PROVIDERS = ("twilio", "meta")
META_GRAPH_URL = "https://graph.facebook.com/v21.0"  # the base URL carries the API version
MIN_SECRET_KEY_LENGTH = 32  # signs the dashboard's session cookies


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None  # None: the embedded PostgreSQL in data_dir
    database_replica_url: str | None = None  # a streaming replica for read-only work (db/replica.py)
    # The owner's URL, for migrations, `thok archive` and `thok db grant-runtime`; DATABASE_URL is
    # then the runtime role's (db/roles.py). None: DATABASE_URL owns everything (the demo).
    database_owner_url: str | None = None
    runtime_role: str | None = None  # THOK_RUNTIME_ROLE: the role grant-runtime and verify look at
    redis_url: str | None = None  # None: the embedded Redis in data_dir
    secret_key: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_base: str | None = None  # only tests point this at a fake Twilio on loopback
    public_base_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(".thok"))
    dev_mode: bool = False  # the demo: skips Twilio signatures, says so at start
    offer_window_seconds: int = 300
    accept_window_seconds: int = 900
    reservation_ttl_seconds: int = 86400
    draft_ttl_seconds: int = 1800
    twilio_max_mps: int = 10
    slow_query_seconds: float = 1.0
    max_body_bytes: int = 16384
    twilio_timeout_seconds: float = 10.0  # one REST call; a timeout is retried like a 5xx
    # Backoff between send attempts (429, 5xx, network); len() is the number of retries.
    outbound_retry_intervals: tuple[int, ...] = (5, 30, 120, 600, 1800)
    # Approved WhatsApp templates per outbound kind, for messages outside the 24-hour window:
    # TWILIO_TEMPLATE_<KIND>=HX... -> (("offer_request", "HX..."), ...); a tuple keeps Settings hashable.
    twilio_templates: tuple[tuple[str, str], ...] = ()
    sweep_interval_seconds: int = 10  # the recovery clock: work lost in Redis is found again within ~2 ticks
    # The decision engine: weights of price, delivery time, the wholesaler's record and the
    # retailer's credit headroom (DECISION_WEIGHTS="price=0.5,delivery=0.2,record=0.2,credit=0.1").
    decision_weights: tuple[tuple[str, float], ...] = (
        ("price", 0.5),
        ("delivery", 0.2),
        ("record", 0.2),
        ("credit", 0.1),
    )
    max_invites: int = 8  # wholesalers asked per order, the retailer's district first
    # Monitoring. PROMETHEUS_MULTIPROC_DIR: where gunicorn's and the RQ worker's processes keep their
    # metric files (prometheus_client's multiprocess mode); each process kind uses a subfolder.
    metrics_dir: Path | None = None  # None: THOK_DATA_DIR/metrics
    worker_metrics_port: int = 9101  # the RQ worker's own /metrics; 0 turns it off
    worker_metrics_addr: str = "127.0.0.1"  # loopback unless the scraper is on another host
    trusted_proxies: int = 0  # proxies in front of the web whose X-Forwarded-For is believed
    log_format: str = "json"  # "json" (one object per line, for grep and log shippers) or "text"
    log_level: str = "INFO"
    # Paying from the chat (payments/): a gateway with no key configured offers no link.
    khalti_secret_key: str | None = None
    khalti_base_url: str = "https://dev.khalti.com/api/v2"  # the sandbox; live: https://khalti.com/api/v2
    esewa_product_code: str | None = None
    esewa_secret_key: str | None = None
    esewa_form_url: str = "https://rc-epay.esewa.com.np/api/epay/main/v2/form"  # UAT; live: epay.esewa.com.np
    esewa_status_url: str = "https://rc.esewa.com.np/api/epay/transaction/status/"
    demo_gateway: bool = False  # `thok demo` only: a pretend Khalti at /demo-gateway/khalti (with dev_mode)
    payment_link_ttl_seconds: int = 86400  # a "pay" link works for a day; each gateway session is shorter
    gateway_timeout_seconds: float = 10.0
    # Reminders of money due (workers/reminders.py): a shop that has owed more than
    # REMINDER_MIN_AMOUNT for REMINDER_AFTER_DAYS days is reminded, at most once in
    # REMINDER_EVERY_DAYS days, unless it replied STOP. REMINDER_AFTER_DAYS=0 (the default): off.
    reminder_after_days: int = 0
    reminder_min_amount: int = 1000
    reminder_every_days: int = 7
    # Which WhatsApp provider carries the messages: Twilio, or Meta's Cloud API (Graph API) directly.
    whatsapp_provider: str = "twilio"
    meta_app_secret: str | None = None  # signs Meta's webhooks (X-Hub-Signature-256)
    meta_verify_token: str | None = None  # ours, echoed by Meta in the subscription handshake
    meta_access_token: str | None = None  # a system user's token, for the Graph API
    meta_phone_number_id: str | None = None  # the business number's id: POST /{id}/messages
    meta_graph_url: str = META_GRAPH_URL  # tests point it at a fake Graph API on loopback
    # Approved templates per outbound kind for Meta (META_TEMPLATE_<KIND>=name or name:language).
    meta_templates: tuple[tuple[str, str], ...] = ()
    meta_max_mps: int = 80  # Meta's default throughput per business number, shared by all workers

    @property
    def payment_gateways(self) -> tuple[str, ...]:
        """The gateways a retailer can pay through: configured, and with a public URL to come back to."""
        if not self.public_base_url:
            return ()
        found = ("khalti",) if self.khalti_secret_key else ()
        return found + (("esewa",) if self.esewa_secret_key and self.esewa_product_code else ())

    @property
    def twilio_configured(self) -> bool:
        """Real sending needs all three; without them (the demo) replies go to the simulator."""
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_whatsapp_from)

    @property
    def meta_configured(self) -> bool:
        """Real sending through the Graph API needs the token and the number's id."""
        return self.whatsapp_provider == "meta" and bool(self.meta_access_token and self.meta_phone_number_id)

    def template_for(self, kind: str) -> str | None:
        """The approved template of this kind for the provider in use (a Twilio ContentSid, or a
        Meta template's `name[:language]`)."""
        return dict(self.meta_templates if self.whatsapp_provider == "meta" else self.twilio_templates).get(kind)

    @property
    def send_throttle(self) -> tuple[str, int]:
        """The sender whose rate is shared across workers, and its messages per second."""
        if self.whatsapp_provider == "meta":
            return f"meta:{self.meta_phone_number_id}", self.meta_max_mps
        return self.twilio_whatsapp_from or "twilio", self.twilio_max_mps

    def provider_needs(self, needs: tuple[str, ...]) -> tuple[str, ...]:
        """`needs` with the Twilio settings swapped for Meta's when Meta is the provider."""
        if self.whatsapp_provider != "meta" or not any(name in TWILIO_NEEDS for name in needs):
            return needs
        meta = META_WORKER_NEEDS + (META_WEB_NEEDS if "SECRET_KEY" in needs else ())
        return tuple(name for name in needs if name not in TWILIO_NEEDS) + meta

    @property
    def sqlalchemy_url(self) -> str | None:
        return to_psycopg_url(self.database_url) if self.database_url else None

    @property
    def owner_database_url(self) -> str | None:
        return self.database_owner_url or self.database_url

    @property
    def embedded(self) -> bool:
        return self.database_url is None or self.redis_url is None

    def with_overrides(self, **kwargs: Any) -> Settings:
        return replace(self, **kwargs)

    def require_production(self, needs: tuple[str, ...] = WEB_NEEDS) -> None:
        """Production (not dev/demo) refuses to start without what the process needs, or with a
        secret that is obviously weak: fail with one clear line naming the variable."""
        if self.dev_mode:
            return
        for name in self.provider_needs(needs):
            value = getattr(self, name.lower())
            if value is None or not str(value).strip():
                raise ConfigError(f"{name} is not set: export {name}=... (or run `thok demo` for dev mode)")
        if "SECRET_KEY" in needs and len(self.secret_key or "") < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"SECRET_KEY is too short (at least {MIN_SECRET_KEY_LENGTH} characters): "
                "export SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
            )


DECISION_FACTORS = ("price", "delivery", "record", "credit")


def _weights(env: dict[str, str], name: str) -> tuple[tuple[str, float], ...]:
    raw = env.get(name)
    if not raw:
        return Settings.decision_weights
    weights = dict(Settings.decision_weights)
    for part in raw.split(","):
        key, _, value = part.partition("=")
        key = key.strip().lower()
        if key not in DECISION_FACTORS:
            raise ConfigError(f"{name}: unknown factor {key!r} (use {', '.join(DECISION_FACTORS)})")
        try:
            weights[key] = float(value)
        except ValueError:
            raise ConfigError(f"{name}: {key} must be a number (got {value!r})") from None
        if weights[key] < 0:
            raise ConfigError(f"{name}: {key} must not be negative")
    if sum(weights.values()) <= 0:
        raise ConfigError(f"{name}: at least one weight must be positive")
    return tuple((k, weights[k]) for k in DECISION_FACTORS)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    database_url = env.get("DATABASE_URL") or None
    if database_url:
        to_psycopg_url(database_url)  # validate early
    if env.get("DATABASE_REPLICA_URL"):
        to_psycopg_url(env["DATABASE_REPLICA_URL"])
    if env.get("DATABASE_OWNER_URL"):
        to_psycopg_url(env["DATABASE_OWNER_URL"])
    return Settings(
        database_url=database_url,
        database_replica_url=env.get("DATABASE_REPLICA_URL") or None,
        database_owner_url=env.get("DATABASE_OWNER_URL") or None,
        runtime_role=(env.get("THOK_RUNTIME_ROLE") or "").strip() or None,
        redis_url=env.get("REDIS_URL") or None,
        secret_key=env.get("SECRET_KEY") or None,
        twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
        twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
        twilio_whatsapp_from=env.get("TWILIO_WHATSAPP_FROM") or None,
        twilio_api_base=env.get("TWILIO_API_BASE") or None,
        public_base_url=(env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        data_dir=Path(env.get("THOK_DATA_DIR") or ".thok"),
        dev_mode=env.get("THOK_DEV_MODE", "").lower() in ("1", "true", "yes"),
        offer_window_seconds=_int(env, "OFFER_WINDOW_SECONDS", 300),
        accept_window_seconds=_int(env, "ACCEPT_WINDOW_SECONDS", 900),
        reservation_ttl_seconds=_int(env, "RESERVATION_TTL_SECONDS", 86400),
        draft_ttl_seconds=_int(env, "DRAFT_TTL_SECONDS", 1800),
        twilio_max_mps=_int(env, "TWILIO_MAX_MPS", 10),
        slow_query_seconds=_float(env, "SLOW_QUERY_SECONDS", 1.0),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 16384),
        decision_weights=_weights(env, "DECISION_WEIGHTS"),
        max_invites=_int(env, "MAX_INVITES", 8),
        twilio_timeout_seconds=_float(env, "TWILIO_TIMEOUT_SECONDS", 10.0),
        outbound_retry_intervals=_int_list(env, "OUTBOUND_RETRY_INTERVALS", (5, 30, 120, 600, 1800)),
        twilio_templates=tuple(
            sorted(
                (name[len("TWILIO_TEMPLATE_") :].lower(), value)
                for name, value in env.items()
                if name.startswith("TWILIO_TEMPLATE_") and value
            )
        ),
        sweep_interval_seconds=_int(env, "SWEEP_INTERVAL_SECONDS", 10),
        metrics_dir=Path(env["PROMETHEUS_MULTIPROC_DIR"]) if env.get("PROMETHEUS_MULTIPROC_DIR") else None,
        worker_metrics_port=_int(env, "WORKER_METRICS_PORT", 9101),
        worker_metrics_addr=(env.get("WORKER_METRICS_ADDR") or "").strip() or "127.0.0.1",
        trusted_proxies=_int(env, "TRUSTED_PROXIES", 0),
        log_format=_choice(env, "LOG_FORMAT", ("json", "text"), "json"),
        log_level=_choice(env, "LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
        khalti_secret_key=(env.get("KHALTI_SECRET_KEY") or "").strip() or None,
        khalti_base_url=(env.get("KHALTI_BASE_URL") or "").rstrip("/") or "https://dev.khalti.com/api/v2",
        esewa_product_code=(env.get("ESEWA_PRODUCT_CODE") or "").strip() or None,
        esewa_secret_key=(env.get("ESEWA_SECRET_KEY") or "").strip() or None,
        esewa_form_url=env.get("ESEWA_FORM_URL") or "https://rc-epay.esewa.com.np/api/epay/main/v2/form",
        esewa_status_url=env.get("ESEWA_STATUS_URL") or "https://rc.esewa.com.np/api/epay/transaction/status/",
        demo_gateway=env.get("THOK_DEMO_GATEWAY", "").lower() in ("1", "true", "yes"),
        payment_link_ttl_seconds=_int(env, "PAYMENT_LINK_TTL_SECONDS", 86400),
        gateway_timeout_seconds=_float(env, "GATEWAY_TIMEOUT_SECONDS", 10.0),
        reminder_after_days=_int(env, "REMINDER_AFTER_DAYS", 0),
        reminder_min_amount=_int(env, "REMINDER_MIN_AMOUNT", 1000),
        reminder_every_days=_int(env, "REMINDER_EVERY_DAYS", 7),
        whatsapp_provider=_choice(env, "WHATSAPP_PROVIDER", WHATSAPP_PROVIDERS, "twilio"),
        meta_app_secret=(env.get("META_APP_SECRET") or "").strip() or None,
        meta_verify_token=(env.get("META_VERIFY_TOKEN") or "").strip() or None,
        meta_access_token=(env.get("META_ACCESS_TOKEN") or "").strip() or None,
        meta_phone_number_id=(env.get("META_PHONE_NUMBER_ID") or "").strip() or None,
        meta_graph_url=(env.get("META_GRAPH_URL", META_GRAPH_URL) or "").strip().rstrip("/"),
        meta_max_mps=_int(env, "META_MAX_MPS", 80),
        meta_templates=tuple(
            sorted(
                (name[len("META_TEMPLATE_") :].lower(), value.strip())
                for name, value in env.items()
                if name.startswith("META_TEMPLATE_") and value.strip()
            )
        ),
    )


def metrics_dir_for(settings: Settings, kind: str) -> Path:
    """The multiprocess metric folder of one process kind ("web", or "worker-<pid>"), exported as
    PROMETHEUS_MULTIPROC_DIR: prometheus_client reads it from the environment, so the entrypoint
    calls this before the first import of thok.metrics. Kinds never share a folder, so a web
    restart (which wipes its folder) cannot erase a running worker's counters."""
    path = (settings.metrics_dir or settings.data_dir / "metrics") / kind
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


SETTING_NAMES = [f.name for f in fields(Settings)]
