"""Deploy backends: how one deploy attempt is carried out on a host.

`get_backend()` reads DEPLOY_BACKEND at call time. The embedded default (empty)
has no backend: deploys end `skipped`, nothing pretends to deploy. The
`command` backend runs DEPLOY_COMMAND with the agent as JSON on stdin and its
token in the environment variable TAOS_AGENT_TOKEN (never in argv, where `ps`
shows it), kills it after DEPLOY_TIMEOUT_SECONDS, and streams its output,
with any token-shaped string and any piece of the token redacted, into the
task's log tail.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from deploys.models import DEPLOY_LOG_TAIL_MAX_CHARS
from tokens.crypto import TOKEN_SHAPED

COMMAND = "command"
BACKENDS = frozenset({COMMAND})
NO_BACKEND_REASON = (
    "No deploy backend is configured (DEPLOY_BACKEND is empty): the agent is "
    "registered but nothing was deployed."
)
# What the admin says beside NO_BACKEND_REASON: what to set, and where it is explained.
NO_BACKEND_HELP = (
    "To deploy, set DEPLOY_BACKEND=command and DEPLOY_COMMAND to the command that deploys "
    "one agent (on TinyAgentOS hosts deploy/incus.sh), then restart the site and its "
    "deploy workers."
)
DEPLOY_DOCS = "docs/deploy.md"
# Environment variables a deploy command always gets from the worker's own
# environment; everything else (DATABASE_URL, SECRET_KEY, ...) stays out.
BASE_PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
TOKEN_ENV = "TAOS_AGENT_TOKEN"
REDACTED = "[redacted]"
# A piece of a secret this long or longer is redacted wherever it appears.
SECRET_FRAGMENT_CHARS = 8
LOG_LINE_MAX_CHARS = 2000
# After the command exits, how long its output may still drain before the
# rest of its process group (anything it left behind holding the pipe) is killed.
DRAIN_SECONDS = 2.0


class BackendNotConfigured(Exception):
    """DEPLOY_BACKEND names no backend, or the backend lacks its settings."""


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    error: str = ""


def redacted(line: str, secrets: list[str]) -> str:
    """Return `line` with every token-shaped string and every 8+ character fragment of `secrets` replaced.

    A command that prints a token cut in two, or another token than its own,
    still leaves no usable piece of one in the log. What is redacted is found
    on the original line, then replaced: each maximal run becomes REDACTED.
    """
    hidden = bytearray(len(line))
    for match in TOKEN_SHAPED.finditer(line):
        hidden[match.start():match.end()] = b"\x01" * (match.end() - match.start())
    for secret in secrets:
        grams = {secret[i:i + SECRET_FRAGMENT_CHARS]
                 for i in range(len(secret) - SECRET_FRAGMENT_CHARS + 1)}
        for i in range(len(line) - SECRET_FRAGMENT_CHARS + 1):
            if line[i:i + SECRET_FRAGMENT_CHARS] in grams:
                hidden[i:i + SECRET_FRAGMENT_CHARS] = b"\x01" * SECRET_FRAGMENT_CHARS
    if not any(hidden):
        return line
    out, i = [], 0
    while i < len(line):
        if hidden[i]:
            while i < len(line) and hidden[i]:
                i += 1
            out.append(REDACTED)
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


class LogTail:
    """The last DEPLOY_LOG_TAIL_MAX_CHARS characters of a log, line by line, thread-safe.

    Every line is `redacted()` before it is kept: no token-shaped string and
    no 8-character piece of a secret given to `redact()` reaches the database,
    even if the command prints it.
    """

    def __init__(self, *, max_chars: int = DEPLOY_LOG_TAIL_MAX_CHARS):
        self._secrets: list[str] = []
        self._max_chars = max_chars
        self._lines: deque[str] = deque()
        self._chars = 0
        self._lock = threading.Lock()

    def redact(self, secret: str) -> None:
        """Replace `secret` in every line added from now on."""
        if secret:
            self._secrets.append(secret)

    def add(self, line: str) -> None:
        line = redacted(line, self._secrets).rstrip("\r\n")
        if len(line) > LOG_LINE_MAX_CHARS:
            line = line[:LOG_LINE_MAX_CHARS] + " [line truncated]"
        with self._lock:
            self._lines.append(line)
            self._chars += len(line) + 1
            while self._chars > self._max_chars and len(self._lines) > 1:
                self._chars -= len(self._lines.popleft()) + 1

    def text(self) -> str:
        with self._lock:
            text = "\n".join(self._lines)
        return text[-self._max_chars:]


# Heartbeat callback: record a sign of life (and the log so far); returns
# False when the attempt no longer owns its task (marked stale), to stop it.
Heartbeat = Callable[[], bool]


class CommandBackend:
    """Run DEPLOY_COMMAND once for one deploy attempt."""

    name = COMMAND

    def __init__(self, *, argv: list[str], timeout: float, heartbeat_every: float,
                 pass_env: list[str]):
        self.argv = argv
        self.timeout = timeout
        self.heartbeat_every = heartbeat_every
        self.pass_env = pass_env

    def environment(self, *, secret: str, extra: Mapping[str, str]) -> dict[str, str]:
        names = [*BASE_PASS_ENV, *self.pass_env]
        env = {name: os.environ[name] for name in names if name in os.environ}
        env.update(extra)
        env[TOKEN_ENV] = secret
        return env

    def run(self, *, payload: dict[str, Any], secret: str, extra_env: Mapping[str, str],
            log: LogTail, heartbeat: Heartbeat) -> Outcome:
        log.add(f"[taos] running {shlex.join(self.argv)} (timeout {self.timeout:g} s)")
        try:
            process = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env=self.environment(secret=secret, extra=extra_env),
                # Its own process group, so a timeout kills everything it started...
                start_new_session=True,
                # ...and a worker that dies (SIGKILL) takes its command with it.
                preexec_fn=_die_with_parent(),
                close_fds=True,
            )
        except OSError as exc:
            error = f"Could not start the deploy command {self.argv[0]!r}: {exc.strerror or exc}."
            log.add(f"[taos] {error}")
            return Outcome(False, error)

        reader = threading.Thread(target=_read_lines, args=(process, log), daemon=True)
        reader.start()
        _write_stdin(process, json.dumps(payload).encode() + b"\n")

        deadline = time.monotonic() + self.timeout
        outcome: Outcome | None = None
        while outcome is None:
            remaining = deadline - time.monotonic()
            try:
                code = process.wait(timeout=max(0.0, min(self.heartbeat_every, remaining)))
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    _kill_group(process)
                    outcome = Outcome(False, (
                        f"The deploy command timed out after {self.timeout:g} s "
                        f"(DEPLOY_TIMEOUT_SECONDS) and was killed."
                    ))
                elif not heartbeat():
                    _kill_group(process)
                    outcome = Outcome(False, "This attempt lost its task (marked stale); "
                                             "its command was killed.")
                continue
            if code == 0:
                outcome = Outcome(True)
            elif code < 0:
                outcome = Outcome(False, f"The deploy command was killed by signal "
                                         f"{_signal_name(-code)}.")
            else:
                outcome = Outcome(False, f"The deploy command exited with status {code}.")

        reader.join(DRAIN_SECONDS)
        if reader.is_alive():
            _kill_group(process)
            reader.join(DRAIN_SECONDS)
        log.add(f"[taos] {'succeeded' if outcome.succeeded else outcome.error}")
        return outcome


def get_backend() -> CommandBackend | None:
    """Return the configured deploy backend, or None for the embedded default."""
    name = settings.DEPLOY_BACKEND.strip()
    if not name:
        return None
    if name == COMMAND:
        command = settings.DEPLOY_COMMAND
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not argv:
            raise BackendNotConfigured(
                "DEPLOY_BACKEND is 'command' but DEPLOY_COMMAND is empty."
            )
        return CommandBackend(
            argv=argv,
            timeout=float(settings.DEPLOY_TIMEOUT_SECONDS),
            heartbeat_every=float(settings.DEPLOY_HEARTBEAT_SECONDS),
            pass_env=list(settings.DEPLOY_COMMAND_PASS_ENV),
        )
    raise BackendNotConfigured(
        f"Unknown DEPLOY_BACKEND {name!r}; use 'command' or leave it empty."
    )


def backend_name() -> str:
    """Return the configured backend's name; '' for the embedded default."""
    return settings.DEPLOY_BACKEND.strip()


def _read_lines(process: subprocess.Popen[bytes], log: LogTail) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        log.add(raw.decode("utf-8", errors="replace"))
    process.stdout.close()


def _write_stdin(process: subprocess.Popen[bytes], data: bytes) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(data)
        process.stdin.close()
    except (BrokenPipeError, ValueError):
        pass  # the command exited or closed stdin without reading it: its business


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """Return a pre-exec hook that has the kernel SIGKILL the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    parent = os.getpid()

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook
