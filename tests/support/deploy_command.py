"""A deploy command for tests: records what it was given, then behaves as told.

    python deploy_command.py RECORD_FILE [--exit N] [--sleep S] [--lines N] [--print-token]

Appends one JSON line when it starts ("start": its token, slug, task, attempt,
pid, parent pid, environment names, the agent read from stdin) and one when it
ends ("end"), so tests can count how often the backend ran and with what.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


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
