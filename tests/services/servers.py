"""A Redis and a PostgreSQL that a test starts and stops itself, for outages: never the machine's shared ones.

Each runs from a temporary folder on a free port, with no persistence beyond that folder, and is stopped for good
when its fixture ends. PostgreSQL refuses to run as root: as root it runs as the `postgres` user (`runuser`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll `condition` until it is true; fail with `what` after `timeout` seconds (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def answers(port: int) -> bool:
    """Something accepts connections on the port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class RedisServer:
    """`redis-server` on a free port, without persistence (`--save '' --appendonly no`)."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self._pings(), what=f"redis-server on port {self.port}")

    def _pings(self) -> bool:
        from redis import Redis

        try:
            return Redis(port=self.port, socket_connect_timeout=0.2).ping()
        except Exception:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
        wait_until(lambda: not answers(self.port), what="redis-server to stop")


class PostgresServer:
    """A PostgreSQL 15 cluster in a temporary folder on a free port (`initdb` once, `pg_ctl` start and stop)."""

    def __init__(self):
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self.data = self.folder / "data"
        self.as_postgres = os.geteuid() == 0  # postgres will not run as root

    @staticmethod
    def available() -> str | None:
        """None when this machine can run one, else why not."""
        if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
            return f"initdb and pg_ctl are not in {PG_BIN}"
        if os.geteuid() == 0 and not shutil.which("runuser"):
            return "running as root, and runuser is not there to run PostgreSQL as the postgres user"
        return None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)

    def init(self) -> None:
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        # No fsync: the test checks what is acknowledged survives a stop and start, not a power cut.
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-t", "30", "-l", str(self.folder / "log"),
                  "start")

    def stop(self) -> None:
        # `fast`: connected clients are cut off, as when a database server goes down under a running portal.
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
        wait_until(lambda: not answers(self.port), what="PostgreSQL to stop")

    def remove(self) -> None:
        try:
            self.stop()
        except (subprocess.CalledProcessError, TimeoutError):
            pass
        shutil.rmtree(self.folder, ignore_errors=True)
