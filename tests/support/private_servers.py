"""Private PostgreSQL and Redis servers for fault tests, stopped by their PIDs.

Fault tests stop and restart servers; they must never do that to the shared
services other tests (and other people) use, so each gets its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.processes import free_port, stop_process, wait_until

PG_BIN = Path(os.environ.get("TAOS_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PrivateRedis:
    """A redis-server on a free loopback port that keeps nothing on disk."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(self.ping, timeout=30, what="redis-server")
        return self

    def ping(self) -> bool:
        result = subprocess.run(["redis-cli", "-p", str(self.port), "ping"],
                                capture_output=True, text=True)
        return result.stdout.strip() == "PONG"

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port, owned by the postgres user.

    Its directory is made under the system temp dir, not pytest's (which is
    private to root, where the postgres user cannot reach it).
    """

    def __init__(self):
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="taos-pg-"))
        self.datadir = self.workdir / "pgdata"

    def _as_postgres(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(a) for a in args]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=True, cwd="/")

    def url(self, dbname: str) -> str:
        return f"postgres://root@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres")
        self._as_postgres(PG_BIN / "initdb", "-D", self.datadir, "-A", "trust",
                          "-U", "postgres", "--no-sync")
        self._pg_ctl("start")
        self._as_postgres(PG_BIN / "createuser", "-h", "127.0.0.1", "-p", self.port,
                          "-U", "postgres", "--superuser", "root")
        return self

    def _pg_ctl(self, action: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} -c fsync=off"
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.datadir, "-o", options,
                          "-l", self.workdir / "postgres.log", "-w", "-m", "fast", action)

    def create_database(self, name: str) -> str:
        self._as_postgres(PG_BIN / "createdb", "-h", "127.0.0.1", "-p", self.port,
                          "-U", "postgres", "-O", "root", name)
        return self.url(name)

    def restart(self) -> None:
        self._pg_ctl("restart")

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._pg_ctl("stop")
        shutil.rmtree(self.workdir, ignore_errors=True)
