"""A fake Twilio REST API on loopback, for the real `twilio` client to talk to.

It emulates the two Messages endpoints Thok uses (create, and list for the crash-window lookup)
and the Content API's list / create / delete (`/v1/Content`, JSON, as content.twilio.com answers;
a message sent with a ContentSid that does not exist is refused with Twilio's 21655), records every
request, and answers from a script: "201" (the default), "429", "500",
"63016" (a 400 with that error code), or "slow" (accept the message, then answer after `delay`
seconds, longer than the client's timeout: Twilio has it, the sender never heard back).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import pytest

from tests.fake_http import send_json, serve, shutdown


@dataclass
class Recorded:
    method: str
    path: str
    form: dict[str, str]
    query: dict[str, str]
    authorization: str
    at: float


@dataclass
class FakeTwilio:
    delay: float = 1.5
    requests: list[Recorded] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    script: list[str] = field(default_factory=list)
    contents: dict[str, dict[str, Any]] = field(default_factory=dict)  # the Content API's, by sid
    content_page_size: int | None = None  # force a smaller page than asked, to exercise paging
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def posts(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == "POST"]

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if urlparse(self.path).path.startswith("/v1/Content"):
                    return fake._content(self, "POST", raw)
                form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                fake._handle(self, "POST", form)

            def do_GET(self) -> None:  # noqa: N802
                if urlparse(self.path).path.startswith("/v1/Content"):
                    return fake._content(self, "GET", "")
                fake._handle(self, "GET", {})

            def do_DELETE(self) -> None:  # noqa: N802
                fake._content(self, "DELETE", "")

        self.server = serve(Handler)
        return self

    def stop(self) -> None:
        shutdown(self.server)

    def _handle(self, handler: BaseHTTPRequestHandler, method: str, form: dict[str, str]) -> None:
        parsed = urlparse(handler.path)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        with self.lock:
            self.requests.append(
                Recorded(method, parsed.path, form, query, handler.headers.get("Authorization", ""), time.monotonic())
            )
            action = self.script.pop(0) if method == "POST" and self.script else "201"
        if not parsed.path.endswith("/Messages.json"):
            return send_json(handler, 404, {"code": 20404, "message": "not found", "status": 404})
        if method == "GET":
            return send_json(handler, 200, self._page(parsed.path, query))
        if action == "429":
            return send_json(handler, 429, {"code": 20429, "message": "Too Many Requests", "status": 429})
        if action == "500":
            return send_json(handler, 500, {"code": 20500, "message": "Internal Server Error", "status": 500})
        if action == "63016":
            return send_json(
                handler,
                400,
                {"code": 63016, "message": "Failed to send freeform message outside the window", "status": 400},
            )
        if form.get("ContentSid") and form["ContentSid"] not in self.contents:
            return send_json(handler, 400, {"code": 21655, "message": "The ContentSid is Invalid", "status": 400})
        message = self._accept(parsed.path, form)
        if action == "slow":
            time.sleep(self.delay)
        send_json(handler, 201, message)

    def _accept(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        now = datetime.now(UTC)
        message = {
            "sid": "SM" + uuid.uuid4().hex,
            "account_sid": path.split("/")[3],
            "from": form.get("From"),
            "to": form.get("To"),
            "body": self._rendered(form) if form.get("ContentSid") else form.get("Body", ""),
            "content_sid": form.get("ContentSid"),
            "content_variables": json.loads(form["ContentVariables"]) if form.get("ContentVariables") else None,
            "num_media": "1" if form.get("MediaUrl") else "0",
            "status": "queued",
            "date_created": format_datetime(now, usegmt=True),
            "date_updated": format_datetime(now, usegmt=True),
            "date_sent": None,
            "num_segments": "1",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "uri": f"{path[:-5]}/x.json",
        }
        with self.lock:
            self.accepted.append(message)
        return message

    def _rendered(self, form: dict[str, str]) -> str:
        """A content message's body as Twilio lists it: the definition's body with the variables in."""
        content = self.contents.get(form["ContentSid"], {})
        variables = json.loads(form.get("ContentVariables") or "{}")
        body = next((t.get("body", "") for t in content.get("types", {}).values() if "body" in t), "")
        for key, value in variables.items():
            body = body.replace("{{" + key + "}}", str(value))
        return str(body)

    def _content(self, handler: BaseHTTPRequestHandler, method: str, raw: str) -> None:
        parsed = urlparse(handler.path)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        with self.lock:
            self.requests.append(
                Recorded(
                    method,
                    parsed.path,
                    {"json": raw},
                    query,
                    handler.headers.get("Authorization", ""),
                    time.monotonic(),
                )
            )
        parts = parsed.path.rstrip("/").split("/")  # ["", "v1", "Content", sid?]
        if not handler.headers.get("Authorization", "").startswith("Basic "):
            return send_json(handler, 401, {"code": 20003, "message": "Authenticate", "status": 401})
        if method == "POST" and len(parts) == 3:
            if handler.headers.get("Content-Type", "").split(";")[0] != "application/json":
                return send_json(handler, 400, {"code": 20001, "message": "expected JSON", "status": 400})
            definition = json.loads(raw)
            missing = [k for k in ("friendly_name", "language", "types") if not definition.get(k)]
            if missing:
                return send_json(handler, 400, {"code": 20001, "message": f"missing {missing}", "status": 400})
            now = format_datetime(datetime.now(UTC), usegmt=True)
            sid = "HX" + uuid.uuid4().hex
            content = {
                "sid": sid,
                "account_sid": "AC" + "0" * 32,
                "friendly_name": definition["friendly_name"],
                "language": definition["language"],
                "variables": definition.get("variables", {}),
                "types": definition["types"],
                "url": f"{self.url}/v1/Content/{sid}",
                "date_created": now,
                "date_updated": now,
                "links": {"approval_fetch": f"{self.url}/v1/Content/{sid}/ApprovalRequests"},
            }
            with self.lock:
                self.contents[sid] = content
            return send_json(handler, 201, content)
        if method == "GET" and len(parts) == 3:
            size = self.content_page_size or int(query.get("PageSize", 50))
            page = int(query.get("Page", 0))
            with self.lock:
                found = list(self.contents.values())
            more = len(found) > (page + 1) * size
            base = f"{self.url}/v1/Content?PageSize={size}"
            return send_json(
                handler,
                200,
                {
                    "contents": found[page * size : (page + 1) * size],
                    "meta": {
                        "page": page,
                        "page_size": size,
                        "first_page_url": f"{base}&Page=0",
                        "previous_page_url": f"{base}&Page={page - 1}" if page else None,
                        "url": f"{base}&Page={page}",
                        "next_page_url": f"{base}&Page={page + 1}" if more else None,
                        "key": "contents",
                    },
                },
            )
        if method == "DELETE" and len(parts) == 4:
            with self.lock:
                gone = self.contents.pop(parts[3], None)
            if gone is None:
                return send_json(handler, 404, {"code": 20404, "message": "not found", "status": 404})
            handler.send_response(204)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        return send_json(handler, 404, {"code": 20404, "message": "not found", "status": 404})

    def _page(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            found = [
                m
                for m in reversed(self.accepted)  # newest first, as Twilio lists them
                if m["to"] == query.get("To", m["to"]) and m["from"] == query.get("From", m["from"])
            ]
        size, page = int(query.get("PageSize", 50)), int(query.get("Page", 0))
        start = page * size
        # Paged like Twilio's list: the next page's URI carries the same filters.
        filters = "&".join(f"{k}={quote(query[k])}" for k in ("To", "From") if k in query)
        more = len(found) > start + size
        return {
            "messages": found[start : start + size],
            "page": page,
            "page_size": size,
            "first_page_uri": path,
            "next_page_uri": f"{path}?{filters}&PageSize={size}&Page={page + 1}" if more else None,
            "previous_page_uri": None,
            "uri": path,
            "start": start,
            "end": start + len(found[start : start + size]),
        }



# --- helpers shared by the messaging tests -------------------------------------------------------

TOKEN = "test-auth-token"
PUBLIC = "http://thok.test"


def signed_headers(path: str, form: dict[str, str], token: str = TOKEN, base: str = PUBLIC) -> dict[str, str]:
    from twilio.request_validator import RequestValidator

    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(base + path, form)}


def twilio_form(sid: str, sender: str = "+9779841000001", body: str = "hello", **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": f"whatsapp:{sender}",
        "To": "whatsapp:+14155238886",
        "Body": body,
        "WaId": sender.lstrip("+"),
        "ProfileName": "Ram",
        "NumMedia": "0",
        **extra,
    }


class RedisServer:
    """A redis-server of the test's own, on its own port, to stop and start at will (never the
    machine's shared one)."""

    def __init__(self, port: int):
        self.port = port
        self.proc: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        import subprocess

        from redis import Redis

        self.proc = subprocess.Popen(
            [
                "/usr/bin/redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 5
        while True:
            try:
                client.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- fixtures (imported by the test modules) --------------------------------------------------------


@pytest.fixture
def fake_twilio() -> Any:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def thok_settings(settings: Any, fresh_database_url: str, fake_twilio: FakeTwilio) -> Any:
    return settings.with_overrides(
        database_url=fresh_database_url,
        twilio_auth_token=TOKEN,
        public_base_url=PUBLIC,
        twilio_api_base=fake_twilio.url,
        twilio_timeout_seconds=0.5,
        outbound_retry_intervals=(0, 0, 0),
    )


@pytest.fixture
def jobs(thok_settings: Any, redis: Any) -> Any:
    """Jobs in this process use the test's database, Redis and fake Twilio."""
    from workers import context

    context.configure(thok_settings)
    yield context.get_services()
    context.configure(None)


@pytest.fixture
def app(thok_settings: Any, fresh_database: Any, jobs: Any) -> Any:
    from bot.app import create_app
    from thok.runtime import redis_for

    return create_app(thok_settings, fresh_database, redis_for(thok_settings), TESTING=True)


def run_worker(redis: Any) -> None:
    """Drain the queues in this process, as `thok worker` would (retries included)."""
    from rq import SimpleWorker

    from workers.runner import QUEUES

    SimpleWorker(list(QUEUES), connection=redis).work(burst=True, with_scheduler=False)
