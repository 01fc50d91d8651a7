"""The memory of `make run`: PSS of its whole process tree, idle after some requests.

`make run` is the embedded default of a small host: gunicorn (its master and
workers, as gunicorn.conf.py sets them) and one deploy worker. This starts it
exactly so, in a new session of its own, with `TAOS_VAR_DIR` in a temporary
directory and a free loopback port, sends `requests` requests (keyed
creates, their replays and list reads, with an operator token), lets it idle,
sums `Pss` of /proc/PID/smaps_rollup over every process of the tree, and
stops the session it started.

    python -m bench.memory [--requests 1000] [--env TAOS_WORKER_CLASS=sync ...]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.processes import ROOT, child_pids, free_port

READY_TIMEOUT_SECONDS = 180
IDLE_SECONDS = 3.0


@dataclass(frozen=True)
class TreeMemory:
    pss_mb: float
    processes: dict[int, tuple[str, float]]  # pid -> (command, PSS in MB)
    # pid -> (private, shared) MB: what only it holds, and what it shares (RSS)
    split: dict[int, tuple[float, float]] = field(default_factory=dict)


def pss_mb(pid: int) -> float | None:
    """Return the PSS of `pid` in MB (None if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return None


def rollup_mb(pid: int) -> dict[str, float]:
    """Return the fields of /proc/PID/smaps_rollup in MB (empty if `pid` is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {}
    fields = {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            fields[name] = int(rest.split()[0]) / 1024
    return fields


def tree(pid: int) -> list[int]:
    """Return `pid` and every descendant of it."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(child_pids(current))
    return pids


def tree_memory(pid: int) -> TreeMemory:
    processes, split = {}, {}
    for member in tree(pid):
        size = pss_mb(member)
        if size is None:
            continue
        try:
            command = Path(f"/proc/{member}/cmdline").read_bytes().replace(b"\0", b" ")
        except FileNotFoundError:
            continue
        processes[member] = (command.decode(errors="replace").strip()[:80], size)
        fields = rollup_mb(member)
        split[member] = (fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0),
                         fields.get("Shared_Clean", 0) + fields.get("Shared_Dirty", 0))
    return TreeMemory(pss_mb=sum(size for _, size in processes.values()), processes=processes,
                      split=split)


def _drive(url: str, token: str, requests: int) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=30, headers=auth) as client:
        keys: list[tuple[str, str]] = []
        for i in range(requests):
            if i % 4 == 3:
                response = client.get("/api/agents/")
            elif i % 4 == 2 and keys:
                key, name = keys[-1]
                response = client.post("/api/agents/", json={"display_name": name},
                                       headers={"Idempotency-Key": key})
            else:
                key, name = str(uuid.uuid4()), f"pss {i}"
                keys.append((key, name))
                response = client.post("/api/agents/", json={"display_name": name},
                                       headers={"Idempotency-Key": key})
            if response.status_code not in (200, 201):
                raise RuntimeError(f"request {i} answered {response.status_code}: "
                                   f"{response.text[:200]}")


def measure_make_run(*, requests: int = 1000, env: dict[str, str] | None = None,
                     workdir: Path | None = None) -> TreeMemory:
    """Start `make run` (embedded default), send `requests`, idle, return its tree's PSS."""
    with tempfile.TemporaryDirectory(prefix="taos-pss-", dir=workdir) as tmp:
        port = free_port()
        run_env = {key: value for key, value in os.environ.items()
                   if key not in ("DATABASE_URL", "REDIS_URL", "TAOS_WORKERS",
                                  "DJANGO_SETTINGS_MODULE")}
        run_env.update({
            "TAOS_VAR_DIR": str(Path(tmp, "var")),
            "TAOS_BIND": f"127.0.0.1:{port}",
            "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(12),
            "TAOS_THROTTLE_USER": "off",
            "TAOS_THROTTLE_ANON": "off",
            "TAOS_GUNICORN_LOG_LEVEL": "warning",
            **(env or {}),
        })
        venv = Path(sys.executable).parent.parent
        log = open(Path(tmp, "make-run.log"), "wb")
        process = subprocess.Popen(["make", "run", f"VENV={venv}"], cwd=ROOT, env=run_env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + READY_TIMEOUT_SECONDS
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("make run did not come up:\n"
                                       + Path(tmp, "make-run.log").read_text()[-3000:])
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            token = subprocess.run(
                [sys.executable, "manage.py", "create_operator_token", "admin", "--name", "pss"],
                cwd=ROOT, env=run_env, check=True, capture_output=True, text=True,
            ).stdout.strip().splitlines()[-1]
            _drive(url, token, requests)
            time.sleep(IDLE_SECONDS)
            return tree_memory(process.pid)
        finally:
            # The session this function started: make, gunicorn (its workers, the deploy worker).
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            except ProcessLookupError:
                pass
            log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    memory = measure_make_run(requests=args.requests,
                              env=dict(item.split("=", 1) for item in args.env))
    print(f"{'pid':>8} {'PSS':>8}    {'private':>8} {'shared':>8}  command")
    for pid, (command, size) in sorted(memory.processes.items()):
        private, shared = memory.split.get(pid, (0.0, 0.0))
        print(f"{pid:>8} {size:8.1f} MB {private:8.1f} {shared:8.1f}  {command}")
    print(f"total PSS {memory.pss_mb:.1f} MB ({len(memory.processes)} processes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
