"""Measure the longest single SQL statement a management command runs.

Method (chosen after looking at what this PostgreSQL offers):

- `pg_stat_statements` is installable here but not in
  `shared_preload_libraries`, and loading it needs a server restart, which
  the bench must not do on a shared server. `log_min_duration_statement`
  could be set for one session only (superuser), but its numbers land in the
  server log, which a client cannot read portably. Neither is used.
- **Primary, every engine: a statement hook in the command's own process.**
  `python -m bench.statements --out FILE -- COMMAND ARGS...` runs the command
  with `connection.execute_wrapper()` (Django's documented instrumentation
  hook) timing every statement Django sends, including `executemany` and
  ORM deletes, from the call until the result is back: the statement's own
  execution plus any lock wait plus a loopback round trip. This is the
  latency the statement imposes, which is what "longest single statement"
  is meant to bound. Commits and rollbacks are driver calls, not cursor
  statements, so the hook cannot see them: the connection's `_commit` and
  `_rollback` are timed too, as statements named COMMIT and ROLLBACK
  (SQLite checkpoints its WAL inside COMMIT, holding the write lock). It
  does not see SQL sent around Django's connection wrapper (a raw driver
  connection), which no command here does.
- **Cross-check, PostgreSQL only: sampling `pg_stat_activity`** every 10 ms
  from the bench process for backends whose `application_name` is the command's
  (set with PGAPPNAME), keeping the longest `clock_timestamp() - query_start`
  seen per statement. This is the server's own view, a lower bound within
  one sampling interval; if it is much larger than the hook's number,
  something bypassed the hook.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.helper_process import run_helper

SAMPLE_INTERVAL_SECONDS = 0.01
KEEP_SLOWEST = 5
SQL_SHOWN_CHARS = 160


class StatementTimer:
    """A Django `execute_wrapper` that times every statement and keeps the slowest."""

    def __init__(self, keep: int = KEEP_SLOWEST):
        self.keep = keep
        self.count = 0
        self.total = 0.0
        self.durations: list[float] = []  # every statement's, in order
        self.kinds: Counter[str] = Counter()  # statements by first word (SELECT, COMMIT, ...)
        self._slowest: list[tuple[float, int, str]] = []  # min-heap of (seconds, seq, sql)

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool,
                 context: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.record(time.perf_counter() - started, sql, many=many)

    def wrap_transaction_end(self, end: Callable[[], Any], name: str) -> Callable[[], Any]:
        """Return `end` (a connection's `_commit` or `_rollback`) timed as statement `name`.

        A commit is not a statement to Django (no cursor, so no
        execute_wrapper), yet it can take long: SQLite checkpoints its WAL
        inside COMMIT, holding the write lock; PostgreSQL flushes WAL.
        """
        def timed() -> Any:
            started = time.perf_counter()
            try:
                return end()
            finally:
                self.record(time.perf_counter() - started, name)
        return timed

    def record(self, seconds: float, sql: str, *, many: bool = False) -> None:
        self.count += 1
        self.total += seconds
        self.durations.append(seconds)
        self.kinds[sql.split(None, 1)[0].upper() if sql.strip() else "?"] += 1
        shown = ("[executemany] " if many else "") + " ".join(sql.split())[:SQL_SHOWN_CHARS]
        item = (seconds, self.count, shown)
        if len(self._slowest) < self.keep:
            heapq.heappush(self._slowest, item)
        elif seconds > self._slowest[0][0]:
            heapq.heapreplace(self._slowest, item)

    @property
    def slowest(self) -> list[dict[str, Any]]:
        """The slowest statements, each with its position (1 = the command's first)."""
        return [{"seconds": round(s, 6), "index": seq, "sql": sql}
                for s, seq, sql in sorted(self._slowest, reverse=True)]

    def percentile(self, q: float) -> float:
        from bench.stats import percentile

        return percentile(self.durations, q)

    @property
    def longest(self) -> float:
        return max((s for s, _, _ in self._slowest), default=0.0)


@dataclass
class CommandTiming:
    argv: list[str]
    returncode: int
    seconds: float
    statements: int = 0
    longest_statement: float = float("nan")
    slowest: list[dict[str, Any]] = field(default_factory=list)
    p50_statement: float = float("nan")
    p99_statement: float = float("nan")
    kinds: dict[str, int] = field(default_factory=dict)
    sampled_longest: float | None = None  # pg_stat_activity cross-check, PostgreSQL only
    sampled_statement: str = ""
    output_tail: str = ""
    # time.monotonic() when the command itself started and ended (Django set
    # up already), to pick out what a concurrent load saw meanwhile.
    started_at: float = float("nan")
    finished_at: float = float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "argv": self.argv, "returncode": self.returncode, "seconds": round(self.seconds, 3),
            "statements": self.statements, "longest_statement_s": self.longest_statement,
            "p50_statement_s": self.p50_statement, "p99_statement_s": self.p99_statement,
            "kinds": self.kinds, "slowest": self.slowest,
            "pg_stat_activity_longest_s": self.sampled_longest,
            "pg_stat_activity_statement": self.sampled_statement,
            "sample_interval_s": SAMPLE_INTERVAL_SECONDS,
        }


async def _sample_pg_activity(url: str, application_name: str, stop: asyncio.Event,
                              seen: dict[tuple[int, Any], tuple[float, str]]) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            cursor = await conn.execute(
                "SELECT pid, query_start, "
                "extract(epoch FROM clock_timestamp() - query_start)::float8, left(query, %s) "
                "FROM pg_stat_activity WHERE application_name = %s AND state = 'active'",
                (SQL_SHOWN_CHARS, application_name),
            )
            for pid, query_start, seconds, query in await cursor.fetchall():
                key = (pid, query_start)
                if seconds > seen.get(key, (0.0, ""))[0]:
                    seen[key] = (seconds, " ".join(query.split()))
            try:
                await asyncio.wait_for(stop.wait(), SAMPLE_INTERVAL_SECONDS)
            except TimeoutError:
                pass


async def run_timed_command(
    argv: list[str], *, env: dict[str, str], workdir: Path, pg_url: str | None = None,
    timeout: float = 900,
) -> CommandTiming:
    """Run `manage.py <argv>` in a subprocess, timing each statement it sends.

    With `pg_url`, also sample pg_stat_activity as a cross-check. The
    subprocess is killed by its PID if anything goes wrong.
    """
    application_name = f"taosbench-{secrets.token_hex(4)}"
    stop = asyncio.Event()
    seen: dict[tuple[int, Any], tuple[float, str]] = {}
    sampler = (asyncio.create_task(_sample_pg_activity(pg_url, application_name, stop, seen))
               if pg_url else None)
    try:
        run = await run_helper("bench.statements", ["--", *argv],
                               env={**env, "PGAPPNAME": application_name},
                               workdir=workdir, timeout=timeout)
    finally:
        stop.set()
        if sampler is not None:
            await sampler
    timing = CommandTiming(argv=argv, returncode=run.returncode, seconds=run.seconds,
                           output_tail=run.output[-2000:])
    if run.result is not None:
        data = run.result
        timing.statements = data["statements"]
        timing.longest_statement = data["longest_statement_s"]
        timing.slowest = data["slowest"]
        timing.p50_statement = data.get("p50_statement_s", float("nan"))
        timing.p99_statement = data.get("p99_statement_s", float("nan"))
        timing.kinds = data.get("kinds", {})
        timing.seconds = data["seconds"]
        timing.started_at = data["started_at"]
        timing.finished_at = data["finished_at"]
    if pg_url is not None:
        longest = max(seen.values(), default=(0.0, ""))
        timing.sampled_longest, timing.sampled_statement = longest
    return timing


def main(argv: list[str] | None = None) -> int:
    """Run a management command with every statement timed; write the timings as JSON."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tinyagentos_site.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    timer = StatementTimer()
    wrapper = connections["default"]
    wrapper._commit = timer.wrap_transaction_end(wrapper._commit, "COMMIT")
    wrapper._rollback = timer.wrap_transaction_end(wrapper._rollback, "ROLLBACK")
    started_at = time.monotonic()
    with connection.execute_wrapper(timer):
        call_command(*command)
    finished_at = time.monotonic()
    args.out.write_text(json.dumps({
        "statements": timer.count, "longest_statement_s": timer.longest,
        "slowest": timer.slowest, "seconds": finished_at - started_at,
        "p50_statement_s": timer.percentile(50), "p99_statement_s": timer.percentile(99),
        "kinds": dict(timer.kinds),
        "total_statement_s": timer.total, "started_at": started_at, "finished_at": finished_at,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
