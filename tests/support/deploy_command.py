"""The recording deploy command of the tests: the script, and `DeployCommand` to use it.

    python deploy_command.py RECORD_FILE [--exit N] [--sleep S] [--lines N] [--print-token]

Appends one JSON line when it starts ("start": its token, slug, task, attempt,
pid, parent pid, environment names, the agent read from stdin) and one when it
ends ("end"), so tests can count how often the backend ran and with what.
`DeployCommand(record_file).command(...)` is the DEPLOY_COMMAND that runs
this file; its `starts()` and `ends()` read the records back.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()


class DeployCommand:
    """This script as a deploy command, recording into one file."""

    def __init__(self, record_file: Path):
        self.record_file = record_file

    def command(self, *, exit: int = 0, sleep: float = 0, lines: int = 0,
                print_token: bool = False) -> str:
        argv = [sys.executable, str(SCRIPT), str(self.record_file),
                "--exit", str(exit), "--sleep", str(sleep), "--lines", str(lines)]
        if print_token:
            argv.append("--print-token")
        return shlex.join(argv)

    def records(self) -> list[dict[str, Any]]:
        if not self.record_file.exists():
            return []
        return [json.loads(line) for line in self.record_file.read_text().splitlines()]

    def starts(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["event"] == "start"]

    def ends(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["event"] == "end"]


def record(path: str, **fields: object) -> None:
    line = json.dumps(fields) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())  # one O_APPEND write: lines of racing runs never mix
    finally:
        os.close(fd)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("record_file")
    parser.add_argument("--exit", type=int, default=0)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--lines", type=int, default=0)
    parser.add_argument("--print-token", action="store_true")
    args = parser.parse_args()

    agent = json.loads(sys.stdin.read())
    token = os.environ.get("TAOS_AGENT_TOKEN", "")
    ids = {"task": os.environ.get("TAOS_DEPLOY_TASK_ID"),
           "attempt": os.environ.get("TAOS_DEPLOY_ATTEMPT")}
    record(args.record_file, event="start", token=token, argv=sys.argv[1:],
           slug=os.environ.get("TAOS_AGENT_SLUG"), pid=os.getpid(), ppid=os.getppid(),
           env=sorted(os.environ), agent=agent, **ids)
    print(f"deploying {agent['name']} ({agent['framework']}, {agent['model']})", flush=True)
    for n in range(args.lines):
        print(f"output line {n}")
    if args.print_token:
        print(f"the token is {token}")
    sys.stdout.flush()
    time.sleep(args.sleep)
    record(args.record_file, event="end", pid=os.getpid(), **ids)
    return args.exit


if __name__ == "__main__":
    sys.exit(main())
