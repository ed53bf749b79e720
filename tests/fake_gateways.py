"""Fake Khalti (ePayment KPG-2) and eSewa (ePay v2) on loopback, answering the documented requests
the way the sandboxes do, so payments/ is tested over real HTTP.

Khalti: POST /epayment/initiate/ (Authorization: Key <secret>; JSON return_url, website_url,
amount in paisa >= 1000, purchase_order_id, purchase_order_name) -> pidx, payment_url, expires_at,
expires_in; POST /epayment/lookup/ {pidx} -> pidx, total_amount, status, transaction_id, fee,
refunded. GET /pay/?pidx= is the payer's page: it completes the payment and redirects to the
return_url with the documented query (pidx, status, transaction_id, amount, purchase_order_id...).

eSewa: POST /api/epay/main/v2/form (the signed form) -> 302 to success_url?data=<base64 JSON, signed
over transaction_code,status,total_amount,transaction_uuid,product_code,signed_field_names>;
GET /api/epay/transaction/status/?product_code&total_amount&transaction_uuid -> product_code,
transaction_uuid, total_amount, status, ref_id (NOT_FOUND for a transaction it never saw).

Scripts for the tests: `statuses[pidx or uuid]` is a queue of statuses the next lookups answer
(the last one sticks); `paid_amount[...]` makes the gateway report another amount; `slow` makes
every answer come after `delay` seconds (past the client's timeout).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from payments.esewa import sign
from tests.fake_http import serve, shutdown

KHALTI_KEY = "test-khalti-secret-key"
ESEWA_KEY = "8gBm/:&EnhH.1/q"  # eSewa's published UAT key
ESEWA_PRODUCT = "EPAYTEST"
RETURN_SIGNED = "transaction_code,status,total_amount,transaction_uuid,product_code,signed_field_names"


@dataclass
class _Server:
    slow: bool = False
    delay: float = 1.5
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    statuses: dict[str, list[str]] = field(default_factory=dict)
    paid_amount: dict[str, Decimal] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Any:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                fake._answer(self, "POST", self.rfile.read(length).decode())

            def do_GET(self) -> None:  # noqa: N802
                fake._answer(self, "GET", "")

        self.server = serve(Handler)
        return self

    def stop(self) -> None:
        shutdown(self.server)

    def _answer(self, h: BaseHTTPRequestHandler, method: str, body: str) -> None:
        if self.slow:
            time.sleep(self.delay)
        parsed = urlparse(h.path)
        with self.lock:
            self.requests.append((method, parsed.path, body or parsed.query))
        status, payload, headers = self.route(method, parsed.path, parse_qs(parsed.query), body, h)
        data = json.dumps(payload).encode() if payload is not None else b""
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            if payload is not None:
                h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def next_status(self, key: str, default: str) -> str:
        with self.lock:
            queue = self.statuses.get(key)
            if not queue:
                return default
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: str, h: BaseHTTPRequestHandler
    ) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError


@dataclass
class FakeKhalti(_Server):
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: str, h: BaseHTTPRequestHandler
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and path == "/pay/":
            return self._payer_pays(query.get("pidx", [""])[0])
        if h.headers.get("Authorization") != f"Key {KHALTI_KEY}":
            return 401, {"detail": "Invalid token.", "status_code": 401}, {}
        try:
            data = json.loads(body or "{}")
        except ValueError:
            return 400, {"detail": "JSON parse error", "error_key": "validation_error"}, {}
        if path == "/epayment/initiate/":
            missing = [k for k in ("return_url", "website_url", "amount", "purchase_order_id", "purchase_order_name")
                       if not data.get(k)]  # fmt: skip
            if missing:
                return 400, {k: ["This field is required."] for k in missing} | {"error_key": "validation_error"}, {}
            if not isinstance(data["amount"], int) or data["amount"] < 1000:
                return 400, {"amount": ["Amount should be greater than Rs. 10, that is 1000 paisa."],
                             "error_key": "validation_error"}, {}  # fmt: skip
            pidx = secrets.token_urlsafe(16)
            with self.lock:
                self.payments[pidx] = {**data, "status": "Initiated", "transaction_id": None}
            expires = datetime.now(UTC).astimezone() + timedelta(minutes=30)
            return (
                200,
                {
                    "pidx": pidx,
                    "payment_url": f"{self.url}/pay/?pidx={pidx}",
                    "expires_at": expires.isoformat(),
                    "expires_in": 1800,
                },
                {},
            )
        if path == "/epayment/lookup/":
            pidx = data.get("pidx", "")
            payment = self.payments.get(pidx)
            if payment is None:
                return 404, {"detail": "Not found.", "error_key": "validation_error"}, {}
            status = self.next_status(pidx, payment["status"])
            paid = self.paid_amount.get(pidx)
            txn = payment["transaction_id"] or (f"TXN-{pidx[:8]}" if status == "Completed" else None)
            return (
                200,
                {
                    "pidx": pidx,
                    "total_amount": int(paid * 100) if paid is not None else payment["amount"],
                    "status": status,
                    "transaction_id": txn,
                    "fee": 0,
                    "refunded": False,
                },
                {},
            )
        return 404, {"detail": "Not found."}, {}

    def _payer_pays(self, pidx: str) -> tuple[int, Any, dict[str, str]]:
        payment = self.payments.get(pidx)
        if payment is None:
            return 404, {"detail": "Not found."}, {}
        with self.lock:
            payment["status"] = "Completed"
            payment["transaction_id"] = f"TXN-{pidx[:8]}"
        query = {
            "pidx": pidx,
            "status": "Completed",
            "transaction_id": payment["transaction_id"],
            "tidx": payment["transaction_id"],
            "amount": payment["amount"],
            "total_amount": payment["amount"],
            "mobile": "98XXXXX000",
            "purchase_order_id": payment["purchase_order_id"],
            "purchase_order_name": payment["purchase_order_name"],
        }
        return 302, None, {"Location": f"{payment['return_url']}?{urlencode(query)}"}

    def complete(self, pidx: str) -> None:
        """The payer paid (and closed the tab: no return)."""
        with self.lock:
            self.payments[pidx]["status"] = "Completed"
            self.payments[pidx]["transaction_id"] = f"TXN-{pidx[:8]}"


@dataclass
class FakeEsewa(_Server):
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: str, h: BaseHTTPRequestHandler
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "POST" and path == "/api/epay/main/v2/form":
            form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
            if form.get("signature") != sign(ESEWA_KEY, form, form.get("signed_field_names", FORM_NAMES)):
                return 400, {"error_message": "Invalid payload signature."}, {}
            uuid = form["transaction_uuid"]
            with self.lock:
                self.transactions[uuid] = {**form, "status": "COMPLETE", "ref_id": f"0{uuid[:6].upper()}"}
            return 302, None, {"Location": f"{form['success_url']}?data={self.success_data(uuid)}"}
        if method == "GET" and path == "/api/epay/transaction/status/":
            uuid = query.get("transaction_uuid", [""])[0]
            txn = self.transactions.get(uuid)
            total = query.get("total_amount", ["0"])[0]
            if txn is None or query.get("product_code", [""])[0] != ESEWA_PRODUCT:
                return 200, {"product_code": ESEWA_PRODUCT, "transaction_uuid": uuid, "total_amount": float(total),
                             "status": self.next_status(uuid, "NOT_FOUND"), "ref_id": None}, {}  # fmt: skip
            paid = self.paid_amount.get(uuid, Decimal(txn["total_amount"]))
            status = self.next_status(uuid, txn["status"])
            return (
                200,
                {
                    "product_code": ESEWA_PRODUCT,
                    "transaction_uuid": uuid,
                    "total_amount": float(paid),
                    "status": status,
                    "ref_id": txn["ref_id"] if status == "COMPLETE" else None,
                },
                {},
            )
        return 404, {"error_message": "not found"}, {}

    def success_data(self, uuid: str, *, key: str = ESEWA_KEY, **changes: str) -> str:
        """What eSewa appends to success_url: base64 JSON, signed with `key`; `changes` alter
        fields after signing (a tampered redirect)."""
        txn = self.transactions[uuid]
        fields = {
            "transaction_code": txn["ref_id"],
            "status": "COMPLETE",
            "total_amount": f"{Decimal(txn['total_amount']):.1f}",
            "transaction_uuid": uuid,
            "product_code": ESEWA_PRODUCT,
            "signed_field_names": RETURN_SIGNED,
        }
        fields["signature"] = sign(key, fields, RETURN_SIGNED)
        fields.update(changes)
        return base64.b64encode(json.dumps(fields).encode()).decode()

    def pay(self, form: dict[str, str]) -> str:
        """The payer's browser posted the form and paid: returns the success redirect's data."""
        uuid = form["transaction_uuid"]
        with self.lock:
            self.transactions[uuid] = {**form, "status": "COMPLETE", "ref_id": f"0{uuid[:6].upper()}"}
        return self.success_data(uuid)


FORM_NAMES = "total_amount,transaction_uuid,product_code"
