"""One real gunicorn master serving the site, for the live tests and the bench.

`GunicornServer` runs the project's own gunicorn.conf.py, as `make run`
does, with N sync workers on a free loopback port, waits until /healthz
answers and every worker is up, and stops by PID: SIGTERM to the master
(SIGKILL after 15 s), then SIGKILL to any worker it had that outlived it.
`env` is the master's whole environment (the tests build it with
`tests.support.live_env`, the bench with `bench.engines.provision`); only
the bind address, the worker count, worker recycling, no deploy worker
unless `env` sets TAOS_DEPLOY_WORKERS, and, if given, the worker timeout
come from here; `app` serves another WSGI application than the site's with
the same gunicorn.conf.py (the bench's peer lab). `cpu_seconds()` is the CPU time the master and its workers
used, which the bench charges its rounds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from harness.processes import (
    ROOT,
    child_pids,
    cpu_seconds,
    free_port,
    start_time,
    stop_process,
)

READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


class GunicornServer:
    """One gunicorn master with `workers` sync workers on 127.0.0.1."""

    def __init__(self, *, env: dict[str, str], workers: int = 4, log_path: Path,
                 timeout: int | None = None, app: str | None = None):
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = log_path
        self.env = {
            # No deploy worker unless a test asks for one (TAOS_DEPLOY_WORKERS):
            # worker_pids() counts the web workers, and tests run jobs themselves.
            "TAOS_DEPLOY_WORKERS": "0",
            **env,
            "TAOS_BIND": f"127.0.0.1:{self.port}",
            "TAOS_WORKERS": str(workers),
            # No recycling: a restarting worker would be a latency spike in a
            # bench round, or a worker a race test did not count on.
            "TAOS_MAX_REQUESTS": "0",
        }
        if timeout is not None:
            self.env["TAOS_WORKER_TIMEOUT"] = str(timeout)
        self.process: subprocess.Popen[bytes] | None = None
        # Every worker seen, with its start time, so that stop() kills no recycled PID.
        self._worker_pids: dict[int, str] = {}
        self._log: IO[bytes] | None = None

    def start(self) -> GunicornServer:
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
             *([self.app] if self.app else [])],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.wait_ready()
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def wait_ready(self) -> None:
        """Wait until /healthz answers 200 and every worker is up."""
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

    def worker_pids(self) -> list[int]:
        """Return the PIDs of the master's live web worker processes."""
        return self._children(group_leaders=False)

    def deploy_worker_pids(self) -> list[int]:
        """Return the PIDs of the deploy workers the master forked (TAOS_DEPLOY_WORKERS).

        They are the children that lead a process group of their own
        (deploys/worker_process.py); web workers stay in the master's.
        """
        return self._children(group_leaders=True)

    def _children(self, *, group_leaders: bool) -> list[int]:
        pids = [pid for pid in (child_pids(self.process.pid) if self.process else [])
                if _leads_its_group(pid) is group_leaders]
        for pid in pids:
            if pid not in self._worker_pids and (started := start_time(pid)) is not None:
                self._worker_pids[pid] = started
        return pids

    def cpu_seconds(self) -> float:
        """Return the CPU time the master and its web workers have used so far.

        Unlike throughput, CPU time per request hardly moves when other
        processes compete for the cores, so the bench reports it beside it.
        The database and Redis servers are not included.
        """
        if self.process is None:
            return 0.0
        return sum(cpu_seconds(pid) for pid in [self.process.pid, *self.worker_pids()])

    def log_tail(self, lines: int = 60) -> str:
        if self._log is not None:
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
            self.deploy_worker_pids()
            stop_process(self.process, timeout=STOP_TIMEOUT_SECONDS)
            for pid, started in sorted(self._worker_pids.items()):
                if start_time(pid) == started:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if self._log is not None:
            self._log.close()
            self._log = None


def _leads_its_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False
