"""One real gunicorn master (N sync workers) serving the site for the bench.

It runs the project's own gunicorn.conf.py, as `make run` does; only the
bind address, the worker count and worker recycling come from the runner.
`stop()` ends the master and then any worker still alive, each by its PID.
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

from bench.config import ROOT

READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def _cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time `pid` has used so far (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # Fields after the parenthesised command name; utime and stime are 14 and 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _is_gunicorn(pid: int) -> bool:
    """Whether `pid` still names a gunicorn process (not a recycled PID)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return b"gunicorn" in cmdline


class GunicornServer:
    def __init__(self, *, env: dict[str, str], workers: int, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = log_path
        self.env = {
            **env,
            "TAOS_BIND": f"127.0.0.1:{self.port}",
            "TAOS_WORKERS": str(workers),
            # No recycling mid-round: a restarting worker would show up as a
            # latency spike that has nothing to do with the scenario.
            "TAOS_MAX_REQUESTS": "0",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._worker_pids: set[int] = set()
        self._log = None

    def start(self) -> GunicornServer:
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def worker_pids(self) -> list[int]:
        pids = _children(self.process.pid) if self.process else []
        self._worker_pids.update(pids)
        return pids

    def cpu_seconds(self) -> float:
        """Return the CPU time the master and its workers have used so far.

        Unlike throughput, CPU time per request hardly moves when other
        processes compete for the cores, so it is reported beside it. The
        database and Redis servers are not included.
        """
        if self.process is None:
            return 0.0
        return sum(_cpu_seconds(pid) for pid in [self.process.pid, *self.worker_pids()])

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log_tail()}")
            try:
                ready = httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready and len(self.worker_pids()) == self.workers:
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn not ready in {READY_TIMEOUT_SECONDS}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if self._log:
            self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the master (TERM, then KILL) and any worker that outlived it."""
        if self.process is not None:
            self.worker_pids()
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
            for pid in sorted(self._worker_pids):
                if _is_gunicorn(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if self._log is not None:
            self._log.close()
            self._log = None
