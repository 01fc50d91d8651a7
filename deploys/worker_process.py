"""Run the deploy worker (`manage.py db_worker`) as a child of the gunicorn master.

Forked from the master after `preload_app`, the worker shares the master's
pages (code, settings, frozen objects) instead of importing Django a second
time in a process of its own. The master keeps it running: gunicorn has no
hook that runs in its loop, so `attach()` wraps the arbiter's
`manage_workers` (called at least once a second, and on every SIGCHLD) to
restart a dead worker, and its `stop` to stop the worker with gunicorn's own.

The master holds no database connection when it forks (`close_all()` right
before every fork), so a worker never shares a socket with the master or
with another worker. The worker runs django-tasks-db's own command, so its
signals are that command's: SIGTERM or SIGINT stop it after the current job.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time

# A worker that dies sooner than this after its start waits longer before the
# next start (1 s, 2 s, 4 s, ... up to the maximum): a worker that cannot
# start (database down) must not fork in a tight loop.
STABLE_SECONDS = 10.0
FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
_PR_SET_PDEATHSIG = 1

# The worker's own lines go through logging (TAOS_LOG_FORMAT), never print.
logger = logging.getLogger(__name__)


class DeployWorkers:
    """Keep `count` deploy workers forked from the gunicorn master `server`."""

    def __init__(self, server, *, count: int, on_exit=None):
        self.server = server
        self.count = count
        # Called with the PID of each worker that exited (gunicorn.conf.py: its metrics files).
        self.on_exit = on_exit or (lambda pid: None)
        self.pids: dict[int, float] = {}  # pid -> its start (monotonic)
        self.stopping = False
        self.delay = FIRST_RESTART_DELAY
        self.next_start = 0.0

    def attach(self) -> None:
        """Make the arbiter start, restart and stop the workers with its own."""
        reap_workers = self.server.reap_workers
        manage_workers, stop = self.server.manage_workers, self.server.stop

        def reap_deploy_workers_first():
            # gunicorn's waitpid(-1) would reap them as unknown children.
            self.reap()
            reap_workers()

        def manage_workers_and_deploy_workers():
            manage_workers()
            self.ensure()

        def stop_with_deploy_workers(graceful=True):
            self.stopping = True
            self.signal(signal.SIGTERM)
            deadline = time.monotonic() + self.server.cfg.graceful_timeout
            stop(graceful)
            self.wait(deadline)

        self.server.reap_workers = reap_deploy_workers_first
        self.server.manage_workers = manage_workers_and_deploy_workers
        self.server.stop = stop_with_deploy_workers

    def reap(self) -> None:
        """Forget dead workers and schedule their restart."""
        now = time.monotonic()
        for pid, started in list(self.pids.items()):
            status = self._reap(pid)
            if status is None:
                continue
            del self.pids[pid]
            self.on_exit(pid)
            if self.stopping:
                self.server.log.info("Deploy worker (pid: %s) exited (%s)", pid, status)
                continue
            lived = now - started
            delay = FIRST_RESTART_DELAY if lived >= STABLE_SECONDS else self.delay
            self.delay = min(delay * 2, MAX_RESTART_DELAY)
            self.next_start = now + delay
            self.server.log.warning("Deploy worker (pid: %s) exited (%s) after %.1f s; "
                                    "restarting in %.0f s", pid, status, lived, delay)

    def ensure(self) -> None:
        """Start missing workers, at most once per restart delay."""
        self.reap()
        now = time.monotonic()
        if self.stopping or now < self.next_start:
            return
        while len(self.pids) < self.count:
            self._spawn()

    def signal(self, sig: int) -> None:
        for pid in self.pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, deadline: float) -> None:
        """Wait for every worker to exit until `deadline`, then SIGKILL the rest."""
        while self.pids and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.1)
        self.signal(signal.SIGKILL)
        for pid in self.pids:
            self.server.log.warning("Deploy worker (pid: %s) killed after the graceful timeout "
                                    "(%s)", pid, self._reap(pid, block=True))
        self.pids = {}

    @staticmethod
    def _reap(pid: int, *, block: bool = False) -> str | None:
        """Return how `pid` ended if it has, else None.

        gunicorn's own reaper (waitpid(-1)) may have reaped it first: then only
        that it is gone is known.
        """
        try:
            reaped, status = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return "reaped by gunicorn"
        if reaped == 0:
            return None
        if os.WIFSIGNALED(status):
            return signal.Signals(os.WTERMSIG(status)).name
        return f"exit status {os.waitstatus_to_exitcode(status)}"

    def _spawn(self) -> None:
        from django.db import connections

        # Nothing the master holds may be shared with the child.
        connections.close_all()
        master = os.getpid()
        pid = os.fork()
        if pid:
            # Both sides set the group, so that it is set before either goes on.
            try:
                os.setpgid(pid, pid)
            except OSError:  # the child set it (or is gone) already
                pass
            self.pids[pid] = time.monotonic()
            self.server.log.info("Booting deploy worker with pid: %s", pid)
            return
        self._run_child(master)

    def _run_child(self, master: int) -> None:
        code = 1
        try:
            # Ctrl-C in a terminal reaches the master only, which stops this
            # worker with one SIGTERM (a second one would abort a running job).
            os.setpgid(0, 0)
            # A master killed without cleanup (SIGKILL) stops its worker too.
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != master:
                os._exit(0)
            for sig in (*self.server.SIGNALS, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            for listener in self.server.LISTENERS:
                listener.close()
            for worker in self.server.WORKERS.values():
                worker.tmp.close()
            from gunicorn import util

            util._setproctitle(f"deploy worker [{self.server.proc_name}]")
            import django
            from django.core.management import CommandError, call_command

            django.setup()  # a no-op after preload_app; DJANGO_SETTINGS_MODULE: gunicorn.conf.py

            try:
                # With the system checks, as `manage.py db_worker` runs them: a
                # misconfigured backend (deploys.E001) refuses to start.
                # The command's own output (its checks' warnings) goes through logging too.
                stream = _LogStream()
                call_command("db_worker", "--no-reload", skip_checks=False,
                             stdout=stream, stderr=stream)
                code = 0
            except CommandError as exc:
                logger.error("Deploy worker refused to start: %s", exc)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except BaseException:
            logger.exception("Deploy worker crashed")
        finally:
            # Never return into the master's code: leave without its atexit
            # handlers (the pidfile is the master's).
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            os._exit(code)


class _LogStream:
    """A file-like object whose writes become log lines (a management command's output)."""

    def write(self, text: str) -> int:
        if text.strip():
            logger.warning("%s", text.rstrip("\n"))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
