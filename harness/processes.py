"""Child processes of the tests and the bench: free ports, waiting, stopping by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

# The project's directory: where every child process runs.
ROOT = Path(__file__).resolve().parents[1]

T = TypeVar("T")


def free_port() -> int:
    """Return a loopback TCP port that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], T], *, timeout: float, interval: float = 0.1,
               what: str = "condition") -> T:
    """Return the first true value of `predicate()`, polled every `interval` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stop_process(process: subprocess.Popen, *, timeout: float = 15) -> None:
    """Stop `process` by its PID: SIGTERM, then SIGKILL if it outlives `timeout` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def child_pids(pid: int) -> list[int]:
    """Return the PIDs of the live child processes of `pid` (none if it is gone)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def stat_fields(pid: int) -> list[str] | None:
    """Return the fields of /proc/PID/stat from field 3 (state) on; None if `pid` is gone.

    They follow the parenthesised command name, which may hold spaces:
    field N of proc(5) is item N - 3.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time `pid` has used so far (0 if it is gone)."""
    fields = stat_fields(pid)
    if fields is None:
        return 0.0
    # Fields 14 and 15: utime and stime, in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_time(pid: int) -> str | None:
    """Return when `pid` started, in clock ticks since boot (None if it is gone).

    A PID and its start time name one process: a recycled PID has another.
    """
    fields = stat_fields(pid)
    return fields[19] if fields else None  # field 22, starttime


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a running process (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"
