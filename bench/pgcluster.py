"""A throwaway PostgreSQL 15 pair for failover runs: a primary and a synchronous streaming standby in
a temp dir on free loopback ports, never the machine's shared server.

    .venv/bin/python bench/pgcluster.py            # start, print the URLs, run until Ctrl-C
    .venv/bin/python bench/pgcluster.py --durable  # fsync on (slower; the default is fsync off)
    .venv/bin/python bench/pgcluster.py --measure [--auto-failover [--default-timeouts]]
                                                   # kill the primary under writes: RPO and RTO

From code (tests/test_failover.py, bench/chaos.py):

    from bench.pgcluster import PgCluster
    with PgCluster() as cluster:          # started, standby streaming and synchronous
        url = cluster.url()               # multi-host, target_session_attrs=read-write
        cluster.kill_primary()            # SIGKILL: the primary's host is gone
        cluster.promote_standby()         # the standby takes writes
    # both servers stopped, also on errors

The primary runs `synchronous_commit = on` with `synchronous_standby_names = 'FIRST 1 (standby1)'`:
a COMMIT (and an autocommit INSERT) returns only once the standby has the WAL on disk, so anything
acknowledged survives losing the primary. The standby's own `synchronous_standby_names` is empty:
once promoted it has no standby of its own, and with the primary's setting every commit would wait
forever for one.

`AutoFailoverCluster` has the same interface with pg_auto_failover (a monitor and two nodes under
`pg_autoctl run`) doing the promotion; `promote_standby()` then only waits for it.

PostgreSQL refuses to run as root: as root the servers run as the `postgres` OS user (runuser).
A watchdog (db/embedded.py's) stops both servers when this process ends, even by SIGKILL.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the project's packages are beside bench/
    sys.path.insert(0, str(ROOT))

from db.embedded import _own  # noqa: E402  (the owner's watchdog: stops the servers if we are killed)

BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
STANDBY_NAME = "standby1"
SERVER_USER = "postgres"  # the OS user the servers run as when we are root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _PairUrls:
    """The URLs of a primary and standby pair, whoever runs them."""

    primary_port: int
    standby_port: int

    def url(self, database: str = "postgres") -> str:
        """The multi-host URL an application uses (what `pg_autoctl show uri` prints, without
        sslmode): libpq tries the hosts in order and keeps the one that takes writes. db/urls.py
        turns this form into the one SQLAlchemy parses."""
        return (
            f"postgresql://postgres@127.0.0.1:{self.primary_port},127.0.0.1:{self.standby_port}/{database}"
            "?target_session_attrs=read-write"
        )

    def primary_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.primary_port}/{database}"

    def standby_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.standby_port}/{database}"


class PgCluster(_PairUrls):
    """A primary and a synchronous standby. `start()` (or `with`) returns when the standby is
    streaming with sync_state = 'sync'; `stop()` always stops both."""

    def __init__(self, root: Path | None = None, *, durable: bool = False, log_connections: bool = False):
        self.root = root
        self.durable = durable
        self.log_connections = log_connections
        self.primary_port = 0
        self.standby_port = 0
        self.killed_at: float | None = None  # time.monotonic() of kill_primary()
        self.promoted_at: float | None = None  # time.monotonic() when pg_promote() returned
        self._own_root = root is None
        self._started = False

    # -- paths and URLs -------------------------------------------------------------------------

    @property
    def primary_dir(self) -> Path:
        assert self.root is not None
        return self.root / "primary"

    @property
    def standby_dir(self) -> Path:
        assert self.root is not None
        return self.root / "standby"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> PgCluster:
        if not (BIN / "pg_basebackup").exists():
            raise RuntimeError(f"PostgreSQL server binaries not found in {BIN} (set PG_BIN)")
        if self.root is None:
            # Not under pytest's tmp_path: that is private to root, and the servers run as postgres.
            self.root = Path(tempfile.mkdtemp(prefix="thok-pgcluster-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, SERVER_USER)
        self.primary_port, self.standby_port = free_port(), free_port()
        self._started = True
        atexit.register(self.stop)
        try:
            self._start_primary()
            self._start_standby()
            self.wait_synchronous(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_primary(self) -> None:
        self._as_server(str(BIN / "initdb"), "-D", str(self.primary_dir), "-A", "trust", "-U", "postgres", "--no-sync")
        with (self.primary_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.primary_port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                "wal_level = replica\n"
                "max_wal_senders = 4\n"
                "wal_keep_size = 256MB\n"
                "hot_standby = on\n"
                "synchronous_commit = on\n"
                f"synchronous_standby_names = 'FIRST 1 ({STANDBY_NAME})'\n"
                "shared_buffers = 32MB\n"
                "max_connections = 100\n"
                f"fsync = {'on' if self.durable else 'off'}\n"
                f"log_connections = {'on' if self.log_connections else 'off'}\n"
            )
        with (self.primary_dir / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        self._pg_ctl_start(self.primary_dir, "primary")

    def _start_standby(self) -> None:
        self._as_server(
            str(BIN / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres"),
            *("-D", str(self.standby_dir), "-R", "-X", "stream", "--no-sync"),
        )
        # Later lines win: -R wrote a primary_conninfo without our application_name, which is the
        # name synchronous_standby_names waits for.
        with (self.standby_dir / "postgresql.auto.conf").open("a") as auto:
            auto.write(
                f"primary_conninfo = 'host=127.0.0.1 port={self.primary_port} user=postgres "
                f"application_name={STANDBY_NAME}'\n"
            )
        with (self.standby_dir / "postgresql.conf").open("a") as conf:
            # Promoted, it has no standby of its own: the primary's setting would block every commit.
            conf.write(f"port = {self.standby_port}\nsynchronous_standby_names = ''\n")
        self._pg_ctl_start(self.standby_dir, "standby")

    def _pg_ctl_start(self, data_dir: Path, name: str) -> None:
        assert self.root is not None
        log = self.root / f"{name}.log"
        self._as_server(str(BIN / "pg_ctl"), "-D", str(data_dir), "-l", str(log), "-w", "-t", "60", "start")
        # SIGINT is PostgreSQL's fast shutdown; the watchdog reads postmaster.pid at stop time.
        _own(data_dir, signal.SIGINT)

    def wait_synchronous(self, timeout: float = 60) -> None:
        """Until the primary reports our standby streaming with sync_state = 'sync'."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(psycopg.OperationalError),
                psycopg.connect(self.primary_url(), autocommit=True, connect_timeout=2) as conn,
            ):
                row = conn.execute(
                    "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = %s",
                    (STANDBY_NAME,),
                ).fetchone()
                state = row
                if row is not None and row[0] == "streaming" and row[1] == "sync":
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the standby did not become synchronous within {timeout:.0f} s (last: {state})")

    def kill_primary(self) -> None:
        """SIGKILL the primary's postmaster and every process under it at once, as when its host
        is lost: no shutdown checkpoint, no goodbye to clients or to the standby."""
        pid = self._postmaster_pid(self.primary_dir)
        if pid is None:
            raise RuntimeError("the primary is not running")
        try:
            postmaster = psutil.Process(pid)
            procs = [postmaster, *postmaster.children(recursive=True)]
        except psutil.NoSuchProcess as exc:
            raise RuntimeError("the primary is not running") from exc
        for proc in procs:  # the postmaster first: no child is restarted or told to shut down
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        self.killed_at = time.monotonic()
        deadline = self.killed_at + 10
        while any(_alive(proc.pid) for proc in procs) and time.monotonic() < deadline:
            time.sleep(0.01)  # not psutil.wait_procs: its backoff polls non-children for seconds

    def promote_standby(self, timeout: int = 30) -> None:
        """pg_promote(): the standby leaves recovery and takes writes (returns once it does)."""
        with psycopg.connect(self.standby_url(), autocommit=True, connect_timeout=5) as conn:
            done = conn.execute("SELECT pg_promote(true, %s)", (timeout,)).fetchone()
        if not done or not done[0]:
            raise RuntimeError(f"the standby was not promoted within {timeout} s")
        self.promoted_at = time.monotonic()

    def stop(self) -> None:
        """Stop both servers (immediate mode: nothing here is worth a checkpoint) and remove the
        temp dir we made. Safe to call twice, and after a kill."""
        if not self._started:
            return
        self._started = False
        for data_dir in (self.standby_dir, self.primary_dir):
            pid = self._postmaster_pid(data_dir)
            if pid is None or not _alive(pid):
                continue
            try:
                self._as_server(str(BIN / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "-t", "20", "stop")
            except (subprocess.SubprocessError, OSError):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self._own_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _postmaster_pid(data_dir: Path) -> int | None:
        try:
            with open(data_dir / "postmaster.pid") as fh:
                return int(fh.readline())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _as_server(*cmd: str) -> None:
        prefix = ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


# pg_auto_failover's monitor settings for a failover in seconds rather than its default ~50 s (20 s to
# call the primary unhealthy, then 30 s primary_demote_timeout). The demote timeout stays above the
# nodes' network_partition_timeout: an old primary cut off from the monitor and its standby demotes
# itself before the monitor promotes the standby, so there are never two primaries.
FAST_MONITOR = {
    "pgautofailover.health_check_period": "1000",
    "pgautofailover.health_check_timeout": "1000",
    "pgautofailover.health_check_max_retries": "1",
    "pgautofailover.health_check_retry_delay": "500",
    "pgautofailover.node_considered_unhealthy_timeout": "3000",
    "pgautofailover.primary_demote_timeout": "8000",
}
FAST_NODE_TIMEOUTS = {"timeout.network_partition_timeout": "6"}
PG_AUTOCTL = Path(os.environ.get("PG_AUTOCTL", "/usr/bin/pg_autoctl"))


class AutoFailoverCluster(_PairUrls):
    """The same interface as PgCluster, with pg_auto_failover (Debian's postgresql-15-auto-failover)
    doing the promotion: a monitor and two nodes, each supervised by `pg_autoctl run`. The monitor
    keeps the secondary synchronous (`synchronous_standby_names = 'ANY 1 (...)'`, number_sync_standbys
    0: writes go on alone, unreplicated, while the secondary is down). `promote_standby()` only waits
    for the monitor to have promoted it. `fast=False` keeps pg_auto_failover's default timeouts."""

    def __init__(self, *, fast: bool = True):
        self.fast = fast
        self.root: Path | None = None
        self.monitor_port = self.primary_port = self.standby_port = 0
        self.killed_at: float | None = None
        self.promoted_at: float | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._started = False

    def monitor_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.monitor_port}/pg_auto_failover"

    def start(self, timeout: float = 120) -> AutoFailoverCluster:
        if not PG_AUTOCTL.exists():
            raise RuntimeError(f"{PG_AUTOCTL} not found (apt-get install postgresql-15-auto-failover)")
        self.root = Path(tempfile.mkdtemp(prefix="thok-pgautofailover-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, SERVER_USER)
        self.monitor_port, self.primary_port, self.standby_port = free_port(), free_port(), free_port()
        self._started = True
        atexit.register(self.stop)
        try:
            self._autoctl("create", "monitor", *self._where("monitor", self.monitor_port))
            self._run("monitor")
            _wait_answers(self.monitor_url(), timeout)
            if self.fast:
                with psycopg.connect(self.monitor_url(), autocommit=True) as conn:
                    for name, value in FAST_MONITOR.items():
                        conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                    conn.execute("SELECT pg_reload_conf()")
            monitor = f"postgresql://autoctl_node@127.0.0.1:{self.monitor_port}/pg_auto_failover?sslmode=disable"
            for node, port in (("node1", self.primary_port), ("node2", self.standby_port)):
                self._autoctl(
                    "create", "postgres", *self._where(node, port), "--name", node, "--monitor", monitor,
                    "--pgctl", str(BIN / "pg_ctl"),
                )  # fmt: skip
                if self.fast:
                    for key, value in FAST_NODE_TIMEOUTS.items():
                        self._autoctl("config", "set", "--pgdata", str(self.root / node), key, value)
                self._run(node)
                self._wait_state(node, "single" if node == "node1" else "secondary", timeout)
            self._wait_state("node1", "primary", timeout)
            self.wait_synchronous(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_synchronous(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(psycopg.OperationalError),
                psycopg.connect(self.primary_url(), autocommit=True, connect_timeout=2) as conn,
            ):
                row = conn.execute("SELECT sync_state FROM pg_stat_replication WHERE state = 'streaming'").fetchone()
                if row is not None and row[0] in ("sync", "quorum"):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the secondary did not become synchronous within {timeout:.0f} s")

    def kill_primary(self) -> None:
        """SIGKILL node1's pg_autoctl and every process under it (its PostgreSQL included): the
        host is gone, and nothing there restarts PostgreSQL or demotes it cleanly."""
        proc = self._procs["node1"]
        try:
            root = psutil.Process(proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess as exc:
            raise RuntimeError("node1 is not running") from exc
        for victim in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                victim.kill()
        self.killed_at = time.monotonic()
        proc.wait(timeout=10)
        deadline = self.killed_at + 10
        while any(_alive(victim.pid) for victim in procs) and time.monotonic() < deadline:
            time.sleep(0.01)

    def promote_standby(self, timeout: float = 120) -> None:
        """Nothing to do but wait for the monitor: node2 is promoted (prepare_promotion,
        stop_replication) but holds every commit until the old primary's demote timeout has passed
        (no split brain), then reports wait_primary and commits alone. Returns then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(psycopg.OperationalError),
                psycopg.connect(self.monitor_url(), autocommit=True, connect_timeout=1) as conn,
            ):
                state = conn.execute(
                    "SELECT reportedstate::text FROM pgautofailover.node WHERE nodename = 'node2'"
                ).fetchone()
                if state is not None and state[0] in ("wait_primary", "primary"):
                    self.promoted_at = time.monotonic()
                    return
            time.sleep(0.05)
        raise RuntimeError(f"pg_auto_failover did not promote node2 within {timeout:.0f} s")

    def stop(self) -> None:
        """SIGTERM every pg_autoctl (it stops its PostgreSQL), SIGKILL what is left after 20 s."""
        if not self._started:
            return
        self._started = False
        for name in ("node2", "node1", "monitor"):
            proc = self._procs.get(name)
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for name in ("node2", "node1", "monitor"):
            proc = self._procs.get(name)
            if proc is None:
                continue
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        assert self.root is not None
        for name in ("node2", "node1", "monitor"):  # a postmaster its pg_autoctl did not stop
            pid = PgCluster._postmaster_pid(self.root / name)
            if pid is not None and _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> AutoFailoverCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- helpers --------------------------------------------------------------------------------

    def _where(self, name: str, port: int) -> list[str]:
        assert self.root is not None
        return [
            *("--pgdata", str(self.root / name), "--pgport", str(port), "--hostname", "127.0.0.1"),
            *("--listen", "127.0.0.1", "--auth", "trust", "--no-ssl"),
        ]

    def _env(self) -> dict[str, str]:
        assert self.root is not None
        xdg = self.root / "xdg"  # pg_autoctl's config and state files: ours, not the postgres user's home
        return {
            **os.environ,
            "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PG_CONFIG": str(BIN / "pg_config"),
            "HOME": str(self.root),
            "XDG_CONFIG_HOME": str(xdg / "config"),
            "XDG_DATA_HOME": str(xdg / "data"),
            "XDG_RUNTIME_DIR": str(xdg / "run"),
        }

    def _user(self) -> dict[str, str]:
        return {"user": SERVER_USER} if os.geteuid() == 0 else {}

    def _autoctl(self, *args: str) -> None:
        assert self.root is not None
        (self.root / "xdg" / "run").mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for path in (self.root / "xdg", self.root / "xdg" / "run"):
                shutil.chown(path, SERVER_USER)
        done = subprocess.run(
            [str(PG_AUTOCTL), *args], env=self._env(), capture_output=True, text=True, timeout=180, **self._user()
        )  # type: ignore[call-overload]
        if done.returncode != 0:
            raise RuntimeError(f"pg_autoctl {' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")

    def _run(self, name: str) -> None:
        """`pg_autoctl run` in its own session (a Ctrl-C to us is ours to handle), logged to a file."""
        assert self.root is not None
        with open(self.root / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(  # type: ignore[call-overload]
                [str(PG_AUTOCTL), "run", "--pgdata", str(self.root / name)],
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._user(),
            )
        self._procs[name] = proc
        _own(self.root / name, signal.SIGINT)  # if we are SIGKILLed: the watchdog stops its postmaster...
        _own(proc.pid, signal.SIGTERM)  # ...after its supervisor (newest first), which would restart it

    def _wait_state(self, node: str, state: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(psycopg.OperationalError),
                psycopg.connect(self.monitor_url(), autocommit=True, connect_timeout=2) as conn,
            ):
                seen = conn.execute(
                    "SELECT reportedstate::text, goalstate::text FROM pgautofailover.node WHERE nodename = %s", (node,)
                ).fetchone()
                if seen == (state, state):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{node} did not reach {state} within {timeout:.0f} s (last: {seen})")


def _wait_answers(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=1):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def measure(cluster: PgCluster | AutoFailoverCluster, detection: float) -> str:
    """Autocommit INSERTs every 20 ms on the multi-host URL, the primary SIGKILLed after 2 s, the
    standby promoted (by us after `detection` s, or by pg_auto_failover): what was acknowledged and
    is not on the new primary (RPO), and kill -> first acknowledged write after it (RTO)."""
    url = cluster.url() + "&connect_timeout=2"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE failover_probe (id int PRIMARY KEY)")
    acked: list[int] = []
    after_kill: list[float] = []
    failures = 0
    stop = threading.Event()

    def write() -> None:
        nonlocal failures
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        i = 0
        while not stop.is_set():
            i += 1
            try:
                if conn is None:
                    conn = psycopg.connect(url, autocommit=True)
                conn.execute("INSERT INTO failover_probe VALUES (%s)", (i,))
                acked.append(i)
                if cluster.killed_at is not None:
                    after_kill.append(time.monotonic())
            except psycopg.Error:
                failures += 1
                conn = None
            time.sleep(0.02)
        if conn is not None:
            conn.close()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        time.sleep(2)
        cluster.kill_primary()
        if isinstance(cluster, PgCluster):
            time.sleep(detection)
        cluster.promote_standby()
        deadline = time.monotonic() + 60
        while not after_kill and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)
    finally:
        stop.set()
        writer.join(timeout=10)
    with psycopg.connect(cluster.standby_url(), autocommit=True) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM failover_probe")}
    assert cluster.killed_at is not None and cluster.promoted_at is not None
    lost = sum(1 for i in acked if i not in stored)
    rto = f"{after_kill[0] - cluster.killed_at:.2f} s" if after_kill else "none within 60 s"
    return (
        f"RPO {lost} of {len(acked)} acknowledged writes lost; RTO kill -> first write {rto} "
        f"(promoted {cluster.promoted_at - cluster.killed_at:.2f} s after the kill); {failures} failed attempts"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="A primary and a synchronous standby on loopback.")
    parser.add_argument(
        "--durable", action="store_true", help="fsync on (default off: faster; a process kill loses nothing either way)"
    )
    parser.add_argument("--auto-failover", action="store_true", help="pg_auto_failover: a monitor promotes the standby")
    parser.add_argument("--default-timeouts", action="store_true", help="with --auto-failover: its default timeouts")
    parser.add_argument(
        "--measure", action="store_true", help="kill the primary under writes, promote, print RPO and RTO, stop"
    )
    parser.add_argument("--detection", type=float, default=1.0, help="--measure without a monitor: kill -> promote (s)")
    args = parser.parse_args()
    cluster: PgCluster | AutoFailoverCluster = (
        AutoFailoverCluster(fast=not args.default_timeouts) if args.auto_failover else PgCluster(durable=args.durable)
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # SIGTERM runs the finally below too
    try:
        cluster.start()
        if args.measure:
            print(measure(cluster, args.detection), flush=True)
            return
        print(f"url      {cluster.url()}")
        print(f"primary  {cluster.primary_url()}")
        print(f"standby  {cluster.standby_url()}  (synchronous)")
        print(f"files    {cluster.root}")
        print("Ctrl-C stops both.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
