"""Real gunicorn processes against the test database, for race and fault tests.

`LiveServer` starts one gunicorn master (a "host") with N workers on a free
loopback port and stops it by its PID. The `gunicorn_factory` fixture in
tests/conftest.py builds the environment that points the workers at the test
database (PostgreSQL or the SQLite file) and stops every server it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def live_database_env() -> dict[str, str]:
    """Return the environment that points a new process at the test database."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "postgresql":
        user = db.get("USER") or ""
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        return {"DATABASE_URL": f"postgres://{auth}{host}:{port}/{db['NAME']}"}
    if connection.vendor == "sqlite":
        return {"TAOS_SQLITE_PATH": str(db["NAME"])}
    raise RuntimeError(f"no live-server support for {connection.vendor}")


class LiveServer:
    """One gunicorn master with `workers` workers on 127.0.0.1."""

    def __init__(self, *, env: dict[str, str], workers: int = 4, log_path: Path,
                 timeout: int = 30):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = log_path
        self.env = {**os.environ, **env, "TAOS_BIND": f"127.0.0.1:{self.port}",
                    "TAOS_WORKERS": str(workers), "TAOS_WORKER_TIMEOUT": str(timeout),
                    "TAOS_MAX_REQUESTS": "0"}
        if "DATABASE_URL" not in env:
            self.env.pop("DATABASE_URL", None)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LiveServer:
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    if len(self.worker_pids()) == self.workers:
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn not ready in {READY_TIMEOUT_SECONDS}s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """Return the PIDs of the master's live worker processes."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except FileNotFoundError:
            return []

    def log_tail(self, lines: int = 60) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        finally:
            self._log.close()
