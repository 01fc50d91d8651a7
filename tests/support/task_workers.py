"""Task workers for deploy tests: ready jobs run in this process, or a real `db_worker`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from harness.processes import ROOT, stop_process
from tests.support.live_env import live_env


def run_queued_jobs() -> int:
    """Run every ready job of the database task backend in this process; return how many.

    Uses django-tasks-db's own Worker.run_task (the code `db_worker` runs),
    without its loop, which closes database connections between jobs.
    """
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default",
                    startup_delay=False, max_tasks=None, worker_id="pytest",
                    excluded_queue_names=[])
    ran = 0
    while (result := DBTaskResult.objects.ready().first()) is not None:
        result.claim(worker.worker_id)
        worker.run_task(result)
        ran += 1
    return ran


class TaskWorker:
    """One real `manage.py db_worker` process against the test database."""

    def __init__(self, *, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()):
        self.log_path = log_path
        self.env = live_env(env)
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> TaskWorker:
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload",
             "--no-startup-delay", "--interval", "0.2", *self.args],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process)
        self._log.close()

