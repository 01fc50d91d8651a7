"""`python -m bench.tools.cost_split`: CPU per request of each party, per lab side, smoke-sized.

On SQLite (the control and ours; no database or Redis server to count) and,
with the suite's PostgreSQL and Redis, on `postgres-redis` (its database is
the test database's name plus `_bench_split`, dropped at the end).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
import pytest

from bench.running_site import _with_database_suffix

pytestmark = [pytest.mark.live, pytest.mark.bench]

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
ROW = re.compile(r"^\| (?P<label>[^|]+) \| (?P<app>\d+) \| (?P<postgres>\d+) \| (?P<redis>\d+) \| "
                 r"(?P<client>\d+) \| (?P<total>\d+) \| (?P<added>[^|]*) \| (?P<rps>\d+) \|$")


def _split(*args: str) -> dict[str, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.tools.cost_split", "--requests", "30", "--rounds", "1",
         "--workers", "2", "--concurrency", "4", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {m["label"]: m.groupdict() for m in map(ROW.match, done.stdout.splitlines()) if m}
    return rows


def test_sqlite_counts_the_app_and_the_client_of_each_side():
    rows = _split("--engine", "sqlite", "--sides", "control,ours")
    assert set(rows) == {"control, no key", "control, fresh key", "ours, fresh key"}
    for row in rows.values():
        assert int(row["app"]) > 0 and int(row["client"]) > 0 and int(row["rps"]) > 0
        parts = sum(int(row[party]) for party in ("app", "postgres", "redis", "client"))
        assert abs(int(row["total"]) - parts) <= 2  # the sum of the parts, each rounded
    assert rows["ours, fresh key"]["added"].startswith("+")


@pytest.mark.skipif(not (DATABASE_URL.startswith("postgres") and REDIS_URL),
                    reason="needs DATABASE_URL=postgres://... and REDIS_URL")
def test_postgres_redis_counts_the_database_and_redis_too():
    rows = _split("--engine", "postgres-redis", "--sides", "control,ours,ours_db",
                  "--pg-url", _with_database_suffix(DATABASE_URL, "_bench_split"),
                  "--redis-url", REDIS_URL)
    assert int(rows["ours, fresh key"]["postgres"]) > 0
    assert int(rows["ours, fresh key"]["redis"]) >= 0
    assert int(rows["ours_db, fresh key"]["postgres"]) > 0
