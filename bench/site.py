"""What a scenario is handed: the running site on one engine, and how to open one.

`open_site()` provisions a fresh database for an engine, starts gunicorn on
it and logs in once; `Site.sibling()` opens a second, independent site on
the same engine (its own database and gunicorn master), for comparisons
whose two sides need different database states side by side, such as a
big table against a small one, alternated round by round.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from bench.auth import Credentials, authenticate
from bench.config import RunConfig
from bench.dbtools import BenchDatabase
from bench.engines import Engine, Operator, provision
from bench.load import Load
from bench.server import GunicornServer
from bench.statements import CommandTiming, run_timed_command

CLIENT_TIMEOUT_SECONDS = 60


@dataclass
class Site:
    """The site under gunicorn on one engine, authenticated, ready for load."""

    engine: Engine
    url: str
    env: dict[str, str]          # points a new process at this site's database and cache
    database: BenchDatabase
    operator: Operator
    credentials: Credentials
    config: RunConfig
    workdir: Path
    run_id: str
    server: GunicornServer
    test_hooks: bool = False
    describe: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)  # scenario setups, by name
    _names: itertools.count = field(default_factory=itertools.count)
    _siblings: itertools.count = field(default_factory=lambda: itertools.count(1))

    def client(self, credentials: Credentials | None = None, *,
               concurrency: int | None = None) -> httpx.AsyncClient:
        """Return a client for the site, authenticated as the operator by default.

        Its pool holds as many connections as the load keeps in flight, so
        the pool never queues a request the load meant to send.
        """
        credentials = credentials or self.credentials
        size = concurrency or self.config.concurrency
        return httpx.AsyncClient(
            base_url=self.url, headers=credentials.headers, cookies=credentials.cookies,
            timeout=CLIENT_TIMEOUT_SECONDS,
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
        )

    def load(self, *, requests: int | None = None, duration: float | None = None,
             concurrency: int | None = None) -> Load:
        return Load(concurrency=concurrency or self.config.concurrency,
                    requests=requests, duration=duration)

    def unique_name(self, prefix: str) -> str:
        """Return a display name no other request of this run uses."""
        return f"{prefix} {self.run_id} {next(self._names)}"

    def fresh_key(self) -> str:
        """Return a fresh Idempotency-Key."""
        return secrets.token_urlsafe(18)

    async def run_command(self, argv: list[str]) -> CommandTiming:
        """Run `manage.py <argv>` against this site's database, timing each statement."""
        pg_url = self.database.url if self.database.vendor == "postgresql" else None
        return await run_timed_command(argv, env=self.env, workdir=self.workdir, pg_url=pg_url)

    def sibling(self) -> AbstractAsyncContextManager[Site]:
        """Open another site on this engine: fresh database, own gunicorn, same settings.

        On PostgreSQL its database is this one's name plus `_s1`, `_s2`, ...
        (dropped on exit like this one's). Costs a migration and a gunicorn
        start (a few seconds) and `workers` more processes while open.
        """
        n = next(self._siblings)
        config = replace(self.config, pg_url=_with_database_suffix(self.config.pg_url, f"_s{n}"))
        return open_site(self.engine, config=config, workdir=self.workdir / f"sibling-{n}",
                         run_id=f"{self.run_id}s{n}", test_hooks=self.test_hooks)


def _with_database_suffix(url: str, suffix: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


@asynccontextmanager
async def open_site(engine: Engine, *, config: RunConfig, workdir: Path, run_id: str,
                    test_hooks: bool) -> AsyncIterator[Site]:
    """Provision `engine`, start gunicorn on it, log in; stop and drop it all on exit."""
    with provision(engine, config=config, workdir=workdir, run_id=run_id,
                   test_hooks=test_hooks) as provisioned:
        server = GunicornServer(env=provisioned.env, workers=config.workers,
                                log_path=workdir / "gunicorn.log")
        try:
            server.start()
            try:
                credentials = await authenticate(config.auth, server.url, provisioned.operator)
            except Exception as exc:
                raise RuntimeError(f"{exc}\n{server.log_tail(15)}") from exc
            yield Site(
                engine=engine, url=server.url, env=provisioned.env,
                database=provisioned.database, operator=provisioned.operator,
                credentials=credentials, config=config, workdir=workdir, run_id=run_id,
                server=server, test_hooks=test_hooks,
                describe={**provisioned.describe,
                          "server": f"gunicorn, {config.workers} sync workers"},
            )
        finally:
            server.stop()
