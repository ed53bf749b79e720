"""Signed webhook posts per second through gunicorn (2 workers) on loopback: the real inbound
endpoint (verify, store, enqueue) against a bare Flask endpoint that only returns TwiML, measured in
the same run on the same machine. A third, "floor", is the real app doing everything but the I/O
(signature, form checks, request log, metrics; no INSERT, no enqueue): what is left of the gap
once PostgreSQL and Redis are taken out. A fourth, "meta", is the real app's Meta Cloud API endpoint
(`/webhooks/meta/whatsapp`: HMAC over the raw JSON body, one message per POST), beside Twilio's.

    .venv/bin/python bench/webhook_rate.py [--requests 3000] [--concurrency 8]

Uses DATABASE_URL / REDIS_URL when set, else embedded servers in a temporary directory. gunicorn
runs with the Procfile's configuration (`thok.gunicorn_conf`: Prometheus multiprocess metrics) in
production mode (signatures checked, one INFO log line per request, written to a file). Prints
the rates, their ratio, p50/p99 latency, the gunicorn workers' CPU per request (psutil, user+sys,
the measured requests only), and checks that the stored rows equal the requests sent.
`--sides real` runs one side only (A/B runs of one change). Target: real >= 0.5 x bare, real p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "bench-auth-token"
PUBLIC = "http://bench.thok.test"
PATH = "/webhooks/twilio/whatsapp"
FLOOR_PATH = "/webhooks/twilio/floor"
META_PATH = "/webhooks/meta/whatsapp"
META_SECRET = "bench-meta-app-secret"
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def bare_app() -> Flask:
    """The floor: Flask and gunicorn only, no signature, no database, no queue."""
    app = Flask(__name__)

    @app.post(PATH)
    def bare() -> Response:
        return Response(TWIML, 200, content_type="text/xml")

    return app


def floor_app() -> Flask:
    """The real app with one more route: the inbound webhook's checks without its I/O."""
    from bot.app import create_app
    from bot.webhook import EMPTY_TWIML, _verified_form, bp
    from channels.twilio import incoming_message

    app = create_app()

    def floor() -> Response:
        form = _verified_form(request)
        if isinstance(form, Response):
            return form
        incoming_message(form)
        return Response(EMPTY_TWIML, 200, content_type="text/xml")

    # Inside the webhooks blueprint's hooks (metrics, outcome) like the real route, on its own path.
    # Named into the webhooks blueprint: its hooks (metrics, CSRF exemption) apply as to the real route.
    app.add_url_rule(FLOOR_PATH, f"{bp.name}.floor", floor, methods=["POST"])
    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(
    app_spec: str, env: dict[str, str], threads: int, log_path: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    # Both endpoints run under the same gunicorn settings; threads let a worker overlap the
    # PostgreSQL commit and the Redis round trip of one request with the parsing of another.
    worker = ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else []
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:thok.gunicorn_conf",
            "-w",
            "2",
            *worker,
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app_spec,
        ],
        cwd=ROOT,
        env=env,
        stderr=log_path.open("ab"),  # the request log: written as in production, not on the terminal
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"gunicorn {app_spec} did not start")


Request = tuple[bytes, dict[str, str]]


def meta_requests(n: int, prefix: str) -> list[Request]:
    """One message per POST, signed as Meta signs (X-Hub-Signature-256 over the raw body)."""
    out = []
    for i in range(n):
        sender = f"97798{41000000 + i % 5000:08d}"
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1"},
            "contacts": [{"profile": {"name": "Bench"}, "wa_id": sender}],
            "messages": [
                {
                    "from": sender,
                    "id": f"wamid.{prefix}{i:08d}",
                    "timestamp": "1764522000",
                    "type": "text",
                    "text": {"body": "2 bora chamal\n5 kg dal"},
                }
            ],
        }
        payload = {
            "object": "whatsapp_business_account",
            "entry": [{"id": "W", "changes": [{"field": "messages", "value": value}]}],
        }
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
        out.append((body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature}))
    return out


def signed_requests(n: int, prefix: str, path: str = PATH) -> list[Request]:
    if path == META_PATH:
        return meta_requests(n, prefix)
    validator = RequestValidator(TOKEN)
    out = []
    for i in range(n):
        form = {
            "MessageSid": f"SM{prefix}{i:08d}",
            "AccountSid": "AC" + "0" * 32,
            "From": f"whatsapp:+97798{41000000 + i % 5000:08d}",
            "To": "whatsapp:+14155238886",
            "Body": "2 bora chamal\n5 kg dal",
            "NumMedia": "0",
            "ProfileName": "Bench",
        }
        signature = validator.compute_signature(PUBLIC + path, form)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
        out.append((urlencode(form).encode(), headers))
    return out


def hammer(
    port: int, requests: list[Request], concurrency: int, path: str = PATH
) -> tuple[float, list[float], list[int]]:
    latencies: list[float] = []
    codes: list[int] = []
    lock = threading.Lock()
    cursor = iter(requests)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[tuple[float, int]] = []
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                break
            body, headers = item
            t0 = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            mine.append((time.perf_counter() - t0, resp.status))
            if resp.getheader("Connection", "").lower() == "close" or resp.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with lock:
            latencies.extend(t for t, _ in mine)
            codes.extend(c for _, c in mine)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies, codes


def workers_cpu(master: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) of gunicorn's workers so far; the master only supervises."""
    total = 0.0
    for child in psutil.Process(master.pid).children():
        times = child.cpu_times()
        total += times.user + times.system
    return total


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else 0.0


def in_process(n: int, run: str) -> None:
    """The real app's WSGI callable in this process, no gunicorn and no sockets of the client's:
    CPU per request (min and median of 5 rounds, time.process_time) and Python calls per request
    (a profile hook counting calls, C functions included), steadier A/B figures on a shared
    machine than the workers' CPU under a concurrent client."""
    from werkzeug.test import EnvironBuilder

    from bot.app import create_app

    app = create_app()

    def environs(prefix: str, count: int) -> list[dict[str, Any]]:
        out = []
        for body, headers in signed_requests(count, prefix):
            builder = EnvironBuilder(
                path=PATH, method="POST", data=body, headers=list(headers.items()), base_url=PUBLIC
            )
            out.append(builder.get_environ())
            builder.close()
        return out

    def serve(environ: dict[str, Any]) -> None:
        status: list[str] = []
        for _ in app.wsgi_app(environ, lambda s, h, e=None: status.append(s)):  # type: ignore[arg-type]
            pass
        assert status[0].startswith("200"), status

    for environ in environs(f"wi{run}", 200):  # warm-up: pools, statement caches, RQ's template
        serve(environ)
    rounds = []
    for r in range(5):
        batch = environs(f"i{r}{run}", n)
        t0 = time.process_time()
        for environ in batch:
            serve(environ)
        rounds.append((time.process_time() - t0) * 1000 / n)
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    batch = environs(f"c{run}", 100)
    sys.setprofile(count)
    for environ in batch:
        serve(environ)
    sys.setprofile(None)
    rounds.sort()
    print(
        f"in-process: CPU min {rounds[0]:.3f} median {rounds[2]:.3f} ms/request over 5 x {n}; "
        f"{calls / 100:.0f} Python calls/request"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (1: sync workers)")
    parser.add_argument("--py-spy", default="", help="record the measured requests: PREFIX-<side>-w<n>.txt (raw)")
    parser.add_argument(
        "--in-process",
        type=int,
        default=0,
        metavar="N",
        help="instead: N real requests through the WSGI app in this process",
    )
    parser.add_argument("--sides", default="bare,floor,real,meta", help="which of bare,floor,real,meta to run")
    args = parser.parse_args()

    from db.migrate import upgrade
    from db.session import Database
    from thok.config import load_settings
    from thok.runtime import with_embedded_servers

    tmp = tempfile.mkdtemp(prefix="thok-bench-")
    settings = with_embedded_servers(load_settings({**os.environ, "THOK_DATA_DIR": tmp}))
    upgrade(settings.database_url)
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "THOK_DATA_DIR": tmp,
        "SECRET_KEY": "bench-" + "k" * 32,  # production mode: a short key is refused
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "PUBLIC_BASE_URL": PUBLIC,
        "META_APP_SECRET": META_SECRET,  # the Meta endpoint checks signatures whichever provider sends
        "PYTHONPATH": str(ROOT),
    }
    run = uuid.uuid4().hex[:8]
    if args.in_process:
        os.environ.update(env)
        in_process(args.in_process, run)
        return
    results = {}
    chosen = set(args.sides.split(","))
    sides = (
        ("bare", "bench.webhook_rate:bare_app()", PATH),
        ("floor", "bench.webhook_rate:floor_app()", FLOOR_PATH),
        ("real", "bot.app:create_app()", PATH),
        ("meta", "bot.app:create_app()", META_PATH),
    )
    log_path = Path(tmp) / "gunicorn.log"
    for name, spec, path in sides:
        if name not in chosen:
            continue
        proc, port = start_gunicorn(spec, env, args.threads, log_path)
        try:
            hammer(port, signed_requests(200, f"w{name}{run}", path), args.concurrency, path)  # warm-up
            requests = signed_requests(args.requests, f"{name}{run}", path)  # built before the clock
            spy = ["py-spy", "record", "--gil", "--nonblocking", "-r", "200", "-f", "raw"]
            spies = [
                subprocess.Popen(
                    [*spy, "-o", f"{args.py_spy}-{name}-w{n}.txt", "-p", str(w.pid)], stdout=subprocess.DEVNULL
                )
                for n, w in enumerate(psutil.Process(proc.pid).children())
                if args.py_spy
            ]
            cpu_before = workers_cpu(proc)
            elapsed, latencies, codes = hammer(port, requests, args.concurrency, path)
            cpu = workers_cpu(proc) - cpu_before
            for recorder in spies:
                recorder.send_signal(2)  # py-spy writes its file on SIGINT
                recorder.wait(timeout=60)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        bad = len([c for c in codes if c != 200])
        cpu_ms = cpu * 1000 / args.requests
        results[name] = (args.requests / elapsed, pct(latencies, 50), pct(latencies, 99), bad, cpu_ms)

    database = Database(settings.database_url or "")
    with database.engine.connect() as conn:
        from sqlalchemy import text

        count = text("SELECT count(*), count(DISTINCT message_sid) FROM inbound_messages WHERE message_sid LIKE :p")
        stored, distinct = conn.execute(count, {"p": f"SMreal{run}%"}).one()
        meta_stored, meta_distinct = conn.execute(count, {"p": f"wamid.meta{run}%"}).one()
    database.dispose()

    for name, (rate, p50, p99, bad, cpu_ms) in results.items():
        print(
            f"{name:>5}: {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
            f"CPU {cpu_ms:5.2f} ms/request   non-200: {bad}"
        )
    print(
        f"gunicorn: 2 workers, {'sync' if args.threads == 1 else f'gthread x{args.threads}'}; "
        f"{args.concurrency} concurrent clients; {args.requests} requests each; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if "bare" in results:
        for name, about in (("real", "target >= 0.5; real p99 target < 50 ms"), ("floor", "without INSERT, enqueue")):
            if name in results:
                print(f"ratio {name}/bare: {results[name][0] / results['bare'][0]:.2f}   ({about})")
    if "real" in results and "meta" in results:
        meta = results["meta"][0] / results["real"][0]
        print(f"ratio meta/real: {meta:.2f}   (Meta's endpoint beside Twilio's, same app)")
    ok = True
    if "real" in results:
        print(f"stored rows: {stored} for {args.requests} requests sent, distinct MessageSid: {distinct}")
        ok = ok and stored == distinct == args.requests and results["real"][3] == 0
    if "meta" in results:
        print(f"stored Meta rows: {meta_stored} for {args.requests} requests sent, distinct wamid: {meta_distinct}")
        ok = ok and meta_stored == meta_distinct == args.requests and results["meta"][3] == 0
    print("rows check:", "OK" if ok else "MISMATCH", f"(embedded data in {tmp}; delete when done)")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
