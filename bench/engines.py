"""The storage set-ups the bench runs the site on, each on a fresh database.

`provision()` creates the engine's bench database (a PostgreSQL or MariaDB
database the bench creates and drops, or a SQLite file in a temporary
directory), migrates it, creates the operator user, and yields the
environment that points a gunicorn master at it; on exit it drops what it
made.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bench.config import ROOT, RunConfig
from bench.dbtools import (
    BenchDatabase,
    Vendor,
    bench_database_name,
    drop_server_database,
    recreate_server_database,
)

PREPARE_TIMEOUT_SECONDS = 300

# Settings the bench decides per engine; never inherited from the caller's shell.
_ENGINE_VARIABLES = (
    "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TOKENS_PEPPER", "TAOS_SQLITE_PATH",
    "TAOS_VAR_DIR", "TAOS_STATIC_ROOT", "DJANGO_SETTINGS_MODULE", "CACHE_KEY_PREFIX", "DEBUG",
    "TAOS_THROTTLE_USER", "TAOS_THROTTLE_ANON", "IDEMPOTENCY_REDIS_FAST_PATH",
    "IDEMPOTENCY_REQUIRED", "IDEMPOTENCY_TEST_PID_DIR", "LOG_LEVEL",
    "TAOS_WORKER_CLASS", "TAOS_THREADS", "TAOS_PRELOAD_APP", "IDEMPOTENCY_WAITERS_PER_KEY",
    "IDEMPOTENCY_SLOT_DIR",
)
# The test-only settings of live servers (harness/live_settings.py): a
# fast password hasher, and POST /api/agents/ honours the X-Test-Delay header.
LIVE_SETTINGS = {"DJANGO_SETTINGS_MODULE": "harness.live_settings"}
# Every bench server runs with these. Throttling off: the load sends far more
# than the production rate per principal (6000/min with Redis), and each
# count would be a Redis round trip the scenarios do not mean to measure.
BENCH_SERVER_SETTINGS = {
    "TAOS_THROTTLE_USER": "off",
    "TAOS_THROTTLE_ANON": "off",
}


# How the setup line names a server vendor's database.
VENDOR_TITLES = {"postgresql": "PostgreSQL", "mysql": "MariaDB"}


@dataclass(frozen=True)
class Engine:
    name: str
    title: str
    database: Vendor  # Django's vendor name: "postgresql", "mysql" (MariaDB), "sqlite"
    cache: Literal["redis", "database"]

    @property
    def tags(self) -> tuple[str, ...]:
        """Names a per-engine target (or an item's `when`) may be keyed by, most specific first."""
        return (self.name, self.database, self.cache)

    def database_url(self, config: RunConfig) -> str:
        """Return the URL of this engine's bench database (a server engine's only)."""
        return {"postgresql": config.pg_url, "mysql": config.mysql_url}[self.database]


ENGINES = {
    "postgres-redis": Engine("postgres-redis", "PostgreSQL + Redis", "postgresql", "redis"),
    "sqlite": Engine("sqlite", "SQLite default (database cache)", "sqlite", "database"),
    "mariadb-redis": Engine("mariadb-redis", "MariaDB + Redis", "mysql", "redis"),
    # Not run by default: PostgreSQL with the database cache, for targets that
    # distinguish the database replay path from the Redis one.
    "postgres": Engine("postgres", "PostgreSQL (database cache)", "postgresql", "database"),
}


@dataclass(frozen=True)
class Operator:
    username: str
    password: str


@dataclass
class Provisioned:
    engine: Engine
    env: dict[str, str]
    database: BenchDatabase
    operator: Operator
    workdir: Path
    describe: dict[str, str] = field(default_factory=dict)


def _delete_redis_keys(url: str, prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        deleted = 0
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += client.delete(*batch)
                batch.clear()
        if batch:
            deleted += client.delete(*batch)
        return deleted
    finally:
        client.close()


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _ENGINE_VARIABLES}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_django(env: dict[str, str], *args: str, timeout: float = PREPARE_TIMEOUT_SECONDS) -> str:
    """Run `python -m <args>` in the site's directory with `env`; return its stdout."""
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-2000:]}\n"
            f"{result.stderr[-4000:]}"
        )
    return result.stdout


@contextmanager
def provision(engine: Engine, *, config: RunConfig, workdir: Path, run_id: str,
              live_settings: bool, env_overrides: dict[str, str] | None = None,
              ) -> Iterator[Provisioned]:
    """Create, migrate and seed a fresh database for `engine`; drop it on exit.

    `env_overrides` are settings of this site only (e.g. a sibling that
    replays through the database: IDEMPOTENCY_REDIS_FAST_PATH=0).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    env = base_env()
    env.update(BENCH_SERVER_SETTINGS)
    env["TAOS_VAR_DIR"] = str(workdir / "var")
    # Static files do not depend on the database: the run's sites share one
    # collection (the admin login page of the session auth method needs it).
    static_root = config.static_root or workdir / "static"
    env["TAOS_STATIC_ROOT"] = str(static_root)
    collected = (static_root / "staticfiles.json").exists()
    env["CACHE_KEY_PREFIX"] = f"taosbench-{run_id}"
    if live_settings:
        env.update(LIVE_SETTINGS)
    describe: dict[str, str] = {}
    server_url = ""
    if engine.database in VENDOR_TITLES:
        server_url = engine.database_url(config)
        recreate_server_database(engine.database, server_url)
        env["DATABASE_URL"] = server_url
        # Production settings require both with DATABASE_URL; fresh ones per run.
        env["SECRET_KEY"] = secrets.token_urlsafe(48)
        env["TOKENS_PEPPER"] = secrets.token_urlsafe(48)
        database = BenchDatabase(vendor=engine.database, url=server_url)
        describe["database"] = (f"{VENDOR_TITLES[engine.database]} database "
                                f"{bench_database_name(server_url)}")
    else:
        path = workdir / "bench.sqlite3"
        env["TAOS_SQLITE_PATH"] = str(path)
        database = BenchDatabase(vendor="sqlite", path=path)
        describe["database"] = f"SQLite file {path}"
    if engine.cache == "redis":
        env["REDIS_URL"] = config.redis_url
        redis_url = config.as_dict()["redis_url"]  # without a password
        describe["cache"] = f"Redis {redis_url} (key prefix {env['CACHE_KEY_PREFIX']})"
    else:
        describe["cache"] = "database cache"
    env.update(env_overrides or {})
    describe["settings"] = ", ".join(
        f"{k}={v}" for k, v in sorted({**BENCH_SERVER_SETTINGS, **(env_overrides or {})}.items()))
    operator = Operator(username="bench-operator", password=secrets.token_urlsafe(24))
    try:
        # The password goes by environment, not argv, which `ps` shows.
        out = run_django({**env, "BENCH_OPERATOR_PASSWORD": operator.password},
                         "-m", "bench.prepare", "--username", operator.username,
                         *(["--skip-static"] if collected else []))
        describe["prepare"] = json.loads(out.strip().splitlines()[-1]).get("summary", "")
        yield Provisioned(engine=engine, env=env, database=database, operator=operator,
                          workdir=workdir, describe=describe)
    finally:
        if engine.cache == "redis":
            try:
                _delete_redis_keys(config.redis_url, env["CACHE_KEY_PREFIX"])
            except Exception as exc:  # cleanup must not hide the run's own error
                print(f"bench: could not delete the run's Redis keys: {exc}", file=sys.stderr)
        if server_url and not config.keep:
            try:
                drop_server_database(engine.database, server_url)
            except Exception as exc:
                print(f"bench: could not drop the bench database: {exc}", file=sys.stderr)
