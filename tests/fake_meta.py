"""A fake Meta Graph API on loopback, and webhook posts signed the way Meta signs them.

It emulates `POST /{version}/{phone-number-id}/messages` (JSON in, JSON out), records every request,
and answers from a script: "200" (the default: accepted, a fresh wamid), "131047" (outside the
24-hour window), "131026" (undeliverable), "130429" / "131056" (rate limits, HTTP 400 as Meta
answers them), "500" (a Graph API error with code 2), or "slow" (accept, then answer after `delay`
seconds, longer than the client's timeout: Meta has it, the sender never heard back).

Read receipts with the typing indicator (`{"status": "read", "message_id": ...}` on the same path)
are answered `{"success": true}` and kept apart in `receipts`. Media: `GET /{version}/{media-id}`
answers the file's short-lived URL (on this server) for an id in `media`, and `GET` of that URL
answers the bytes, both only with the bearer token; `media_gets` records the paths asked for.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.fake_http import send_json, serve, shutdown

VERSION = "v21.0"
PHONE_NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "test-meta-access-token"
APP_SECRET = "test-meta-app-secret"
VERIFY_TOKEN = "test-meta-verify-token"
PATH = "/webhooks/meta/whatsapp"

ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "131047": (400, {"message": "Re-engagement message", "code": 131047, "error_subcode": 2494010}),
    "131026": (400, {"message": "Message undeliverable", "code": 131026}),
    "130429": (400, {"message": "Rate limit hit", "code": 130429}),
    "131056": (400, {"message": "(Business Account, Consumer Account) pair rate limit hit", "code": 131056}),
    "500": (500, {"message": "Service temporarily unavailable", "code": 2}),
}


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    authorization: str


@dataclass
class FakeGraph:
    delay: float = 1.5
    requests: list[Recorded] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)  # what Meta took, with its wamid
    script: list[str] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # media id -> (mime type, bytes)
    media_gets: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/{VERSION}"

    def start(self) -> FakeGraph:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake._handle(self, json.loads(raw or b"{}"))

            def do_GET(self) -> None:  # noqa: N802
                fake._media(self)

        self.server = serve(Handler)
        return self

    def stop(self) -> None:
        shutdown(self.server)

    def to(self, phone: str) -> list[dict[str, Any]]:
        """Accepted messages to this number (E.164), or to this business-scoped user id, oldest first."""
        with self.lock:
            return [m for m in self.accepted if m.get("to") == phone.lstrip("+") or m.get("recipient") == phone]

    def _media(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.media_gets.append(handler.path)
        if handler.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return send_json(handler, 401, {"error": {"message": "Invalid OAuth access token", "code": 190}})
        parts = handler.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "download" and parts[1] in self.media:  # the file itself
            mime, data = self.media[parts[1]]
            handler.send_response(200)
            handler.send_header("Content-Type", mime)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return None
        if len(parts) == 2 and parts[0] == VERSION and parts[1] in self.media:
            mime, data = self.media[parts[1]]
            host, port = handler.server.server_address[:2]
            url = f"http://{host}:{port}/download/{parts[1]}"
            return send_json(handler, 200, {"url": url, "mime_type": mime, "file_size": len(data), "id": parts[1]})
        return send_json(handler, 404, {"error": {"message": "Unsupported get request", "code": 100}})

    def _handle(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        if body.get("status") == "read":  # a read receipt: no message, no wamid, no scripted answer
            with self.lock:
                self.receipts.append({**body, "authorization": handler.headers.get("Authorization", "")})
            return send_json(handler, 200, {"success": True})
        with self.lock:
            self.requests.append(Recorded(handler.path, body, handler.headers.get("Authorization", "")))
            action = self.script.pop(0) if self.script else "200"
        if handler.path != f"/{VERSION}/{PHONE_NUMBER_ID}/messages":
            return send_json(handler, 404, {"error": {"message": "Unknown path", "code": 100}})
        if handler.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return send_json(handler, 401, {"error": {"message": "Invalid OAuth access token", "code": 190}})
        if action in ERRORS:
            status, error = ERRORS[action]
            return send_json(handler, status, {"error": {**error, "type": "OAuthException", "fbtrace_id": "Afake"}})
        wamid = f"wamid.FAKE{next(self._ids):020d}"
        with self.lock:
            self.accepted.append({**body, "id": wamid})
        if action == "slow":
            time.sleep(self.delay)
        send_json(
            handler,
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                "messages": [{"id": wamid, "message_status": "accepted"}],
            },
        )


# --- webhook posts, as Meta builds and signs them ------------------------------------------------


def text_message(wamid: str, sender: str, body: str) -> dict[str, Any]:
    return {"from": sender.lstrip("+"), "id": wamid, "timestamp": "1764522000", "type": "text", "text": {"body": body}}


def button_reply(wamid: str, sender: str, choice_id: str, title: str, *, list_row: bool = False) -> dict[str, Any]:
    kind = "list_reply" if list_row else "button_reply"
    return {
        "from": sender.lstrip("+"),
        "id": wamid,
        "timestamp": "1764522000",
        "type": "interactive",
        "interactive": {"type": kind, kind: {"id": choice_id, "title": title}},
    }


def webhook_payload(
    messages: list[dict[str, Any]] = (),  # type: ignore[assignment]
    statuses: list[dict[str, Any]] = (),  # type: ignore[assignment]
    name: str = "Ram",
) -> dict[str, Any]:
    """One entry, one `messages` change, as Meta sends it."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_NUMBER_ID},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": m["from"]} for m in messages if "from" in m]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA_ID", "changes": [{"value": value, "field": "messages"}]}],
    }


def signed(raw: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


def post_signed(client: Any, payload: dict[str, Any], secret: str = APP_SECRET) -> Any:
    raw = json.dumps(payload, ensure_ascii=False).encode()
    return client.post(PATH, data=raw, headers=signed(raw, secret))


def meta_overrides(fake: FakeGraph) -> dict[str, Any]:
    return {
        "whatsapp_provider": "meta",
        "meta_app_secret": APP_SECRET,
        "meta_verify_token": VERIFY_TOKEN,
        "meta_access_token": ACCESS_TOKEN,
        "meta_phone_number_id": PHONE_NUMBER_ID,
        "meta_graph_url": fake.url,
    }


@pytest.fixture
def fake_graph() -> Any:
    fake = FakeGraph().start()
    yield fake
    fake.stop()
