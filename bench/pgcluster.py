"""A throwaway PostgreSQL 15 pair for failover runs: a primary and a synchronous streaming standby in
a temp dir on free loopback ports, never the machine's shared server.

    .venv/bin/python bench/pgcluster.py            # start, print the URLs, run until Ctrl-C
    .venv/bin/python bench/pgcluster.py --durable  # fsync on (slower; the default is fsync off)

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


class PgCluster:
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

    def url(self, database: str = "postgres") -> str:
        """The multi-host URL an application uses: libpq tries the hosts in order and keeps the one
        that takes writes. db/urls.py turns this form into the one SQLAlchemy parses."""
        return (
            f"postgresql://postgres@127.0.0.1:{self.primary_port},127.0.0.1:{self.standby_port}/{database}"
            "?target_session_attrs=read-write"
        )

    def primary_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.primary_port}/{database}"

    def standby_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.standby_port}/{database}"

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


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description="A primary and a synchronous standby on loopback, until Ctrl-C.")
    parser.add_argument(
        "--durable", action="store_true", help="fsync on (default off: faster; a process kill loses nothing either way)"
    )
    args = parser.parse_args()
    cluster = PgCluster(durable=args.durable)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # SIGTERM runs the finally below too
    try:
        cluster.start()
        print(f"url      {cluster.url()}")
        print(f"primary  {cluster.primary_url()}  ({cluster.primary_dir})")
        print(f"standby  {cluster.standby_url()}  ({cluster.standby_dir}, synchronous as {STANDBY_NAME})")
        print("Ctrl-C stops both.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
