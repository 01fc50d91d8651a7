"""Private PostgreSQL, PgBouncer and Redis servers for the tests, stopped by their PIDs.

Fault tests stop and restart servers; they must never do that to the shared
services other tests (and other people) use, so each gets its own. A
private PgBouncer puts the live servers behind transaction pooling.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from harness.processes import free_port, stop_process, wait_until

PG_BIN = Path(os.environ.get("TAOS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PGBOUNCER = os.environ.get("TAOS_PGBOUNCER", "/usr/sbin/pgbouncer")


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


class PrivatePgBouncer:
    """A PgBouncer in transaction pooling mode on a free loopback port, before one PostgreSQL.

    `pool_size` server connections per database and user, however many
    clients: with fewer than the workers, consecutive transactions of one
    worker run on different server connections, as in production. Runs as
    the postgres user (PgBouncer refuses root); authentication is trust, as
    for the PostgreSQL it fronts here.
    """

    def __init__(self, *, server_host: str, server_port: int, pool_size: int = 4):
        self.port = free_port()
        self.pool_size = pool_size
        self.workdir = Path(tempfile.mkdtemp(prefix="taos-pgbouncer-"))
        self.server = (server_host, server_port)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivatePgBouncer:
        host, port = self.server
        (self.workdir / "users.txt").write_text('"root" ""\n"postgres" ""\n')
        (self.workdir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={host} port={port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.workdir / 'users.txt'}\n"
            "admin_users = root\n"
            f"pool_mode = transaction\ndefault_pool_size = {self.pool_size}\n"
            "max_client_conn = 1000\n"
            # psycopg sends no such parameters; other clients might.
            "ignore_startup_parameters = extra_float_digits,options\n"
        )
        user = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
        if user:
            shutil.chown(self.workdir, "postgres")
        log = open(self.workdir / "pgbouncer.log", "ab")
        self.process = subprocess.Popen(
            [PGBOUNCER, str(self.workdir / "pgbouncer.ini")], cwd=self.workdir,
            stdout=log, stderr=subprocess.STDOUT, **user,
        )
        log.close()
        wait_until(self.ready, timeout=30, what="pgbouncer")
        return self

    def ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited:\n{self.log_tail()}")
        return subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "root", "-d", "pgbouncer",
             "-Atc", "SHOW VERSION"], capture_output=True, text=True).returncode == 0

    def show(self, what: str) -> list[dict[str, str]]:
        """Return the rows of the admin console's SHOW `what` (POOLS, SERVERS, ...)."""
        result = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "root", "-d", "pgbouncer",
             "-AF", "\t", "-c", f"SHOW {what}"], capture_output=True, text=True, check=True)
        header, *rows = result.stdout.splitlines()[:-1]  # the last line counts rows
        names = header.split("\t")
        return [dict(zip(names, row.split("\t"))) for row in rows]

    def database_env(self, direct_url: str) -> dict[str, str]:
        """Return the environment that sends a site process through this PgBouncer."""
        parts = urlsplit(direct_url)
        auth = parts.netloc.rpartition("@")[0]
        netloc = f"{auth}@127.0.0.1:{self.port}" if auth else f"127.0.0.1:{self.port}"
        return {"DATABASE_URL": urlunsplit(parts._replace(netloc=netloc)),
                "DB_POOLER": "pgbouncer"}

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = (self.workdir / "pgbouncer.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)
