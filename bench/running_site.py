"""What a scenario is handed: the running site on one engine, and how to open one.

`open_site()` provisions a fresh database for an engine, starts gunicorn on
it and logs in once. From a site:

- `Site.variant(settings)` starts another gunicorn master on the *same*
  database with some settings changed (the database replay path with
  IDEMPOTENCY_REDIS_FAST_PATH=0, or the test-only settings
  harness.live_settings for the delay header),
  so the main server keeps the production settings;
- `Site.sibling()` opens a second, independent site on the same engine (its
  own database and gunicorn master), for comparisons whose two sides need
  different database states side by side, such as a big table against a
  small one, alternated round by round.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.auth import AuthContext, Credentials, authenticate
from bench.config import RunConfig
from bench.dbtools import BenchDatabase
from bench.engines import LIVE_SETTINGS, Engine, Operator, provision
from bench.load import BenchClient, Load
from bench.statements import CommandTiming, run_timed_command
from harness.gunicorn import GunicornServer

# The setting that turns the Redis replay path off (idempotency app).
DATABASE_REPLAYS = {"IDEMPOTENCY_REDIS_FAST_PATH": "0"}


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
    live_settings: bool = False
    overrides: dict[str, str] = field(default_factory=dict)  # settings of this server only
    describe: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)  # scenario setups, by name
    # Variants and credentials a scenario opened, kept until the engine is done.
    resources: AsyncExitStack = field(default_factory=AsyncExitStack)
    _credentials: dict[str, Credentials] = field(default_factory=dict)
    _variants: dict[tuple[tuple[str, str], ...], Site] = field(default_factory=dict)
    _root: Site | None = None  # the site a variant was started from
    _names: itertools.count = field(default_factory=itertools.count)
    _siblings: itertools.count = field(default_factory=lambda: itertools.count(1))

    def client(self, credentials: Credentials | None = None, *,
               concurrency: int | None = None) -> BenchClient:
        """Return a client for the site, authenticated as the operator by default.

        Its pool holds as many connections as the load keeps in flight, so
        the pool never queues a request the load meant to send.
        """
        credentials = credentials or self.credentials
        return BenchClient(self.url, headers=credentials.headers, cookies=credentials.cookies,
                           size=concurrency or self.config.concurrency)

    def cpu_seconds(self) -> float:
        """Return the CPU time of this site's gunicorn masters and workers, variants included.

        A scenario may run on a variant (the database replay path): counting
        every server of the site charges its round wherever it ran; idle
        servers add nothing.
        """
        root = self._root or self
        return sum(site.server.cpu_seconds() for site in [root, *root._variants.values()])

    async def credentials_for(self, method: str) -> Credentials:
        """Return the operator's credentials by auth method `method`, obtained once."""
        if method == self.credentials.method:
            return self.credentials
        if method not in self._credentials:
            self._credentials[method] = await authenticate(
                method, AuthContext(url=self.url, operator=self.operator, env=self.env))
        return self._credentials[method]

    async def variant(self, settings: dict[str, str]) -> Site:
        """Return a site on this database served by its own gunicorn with `settings` changed.

        Started once per distinct set of changed settings and kept until the
        engine is done; the operator's credentials work on it unchanged (same
        database, same keys). With nothing to change, it is this site.
        """
        root = self._root or self
        env = {**self.env, **settings}
        changed = {k: v for k, v in env.items() if root.env.get(k) != v}
        if not changed:
            return root
        ident = tuple(sorted(changed.items()))
        if ident not in root._variants:
            n = len(root._variants) + 1
            server = GunicornServer(env=env, workers=root.config.workers,
                                    log_path=root.workdir / f"gunicorn-variant-{n}.log")
            root.resources.callback(server.stop)
            await asyncio.to_thread(server.start)
            root._variants[ident] = replace(
                root, url=server.url, env=env, server=server,
                live_settings=all(env.get(k) == v for k, v in LIVE_SETTINGS.items()),
                overrides={**root.overrides, **changed}, state={}, _root=root,
                describe={**root.describe, "settings": ", ".join(
                    f"{k}={v}" for k, v in sorted(changed.items()))},
            )
        return root._variants[ident]

    async def database_replays(self) -> Site:
        """Return the site to use for replays through the database, not Redis.

        On an engine with Redis: a variant with IDEMPOTENCY_REDIS_FAST_PATH=0;
        elsewhere the replays go through the database anyway: this site.
        """
        if self.engine.cache != "redis":
            return self
        return await self.variant(DATABASE_REPLAYS)

    async def with_live_settings(self) -> Site:
        """Return a variant of this site with the test-only settings (the X-Test-Delay header)."""
        return await self.variant(LIVE_SETTINGS)

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

    def sibling(self, settings: dict[str, str] | None = None) -> AbstractAsyncContextManager[Site]:
        """Open another site on this engine: fresh database, own gunicorn, same settings.

        `settings` changes some for it (as `variant`). On PostgreSQL and
        MariaDB its database is this one's name plus `_s1`, `_s2`, ...
        (dropped on exit like this one's). Costs a migration and a gunicorn start (a few
        seconds) and `workers` more processes while open.
        """
        n = next(self._siblings)
        config = replace(self.config,
                         pg_url=_with_database_suffix(self.config.pg_url, f"_s{n}"),
                         mysql_url=_with_database_suffix(self.config.mysql_url, f"_s{n}"))
        return open_site(self.engine, config=config, workdir=self.workdir / f"sibling-{n}",
                         run_id=f"{self.run_id}s{n}", live_settings=self.live_settings,
                         env_overrides={**self.overrides, **(settings or {})})


def _server_line(env: dict[str, str], workers: int) -> str:
    """Describe the worker model gunicorn.conf.py gives the bench's servers."""
    worker_class = env.get("TAOS_WORKER_CLASS") or "sync"
    if worker_class == "gthread":
        return f"gunicorn, {workers} gthread workers x {env.get('TAOS_THREADS') or 4} threads"
    return f"gunicorn, {workers} {worker_class} workers"


def _with_database_suffix(url: str, suffix: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


@asynccontextmanager
async def open_site(engine: Engine, *, config: RunConfig, workdir: Path, run_id: str,
                    live_settings: bool, env_overrides: dict[str, str] | None = None,
                    ) -> AsyncIterator[Site]:
    """Provision `engine`, start gunicorn on it, log in; stop and drop it all on exit."""
    with provision(engine, config=config, workdir=workdir, run_id=run_id,
                   live_settings=live_settings, env_overrides=env_overrides) as provisioned:
        server = GunicornServer(env=provisioned.env, workers=config.workers,
                                    log_path=workdir / "gunicorn.log")
        try:
            server.start()
            try:
                credentials = await authenticate(config.auth, AuthContext(
                    url=server.url, operator=provisioned.operator, env=provisioned.env))
            except Exception as exc:
                raise RuntimeError(f"{exc}\n{server.log_tail(15)}") from exc
            site = Site(
                engine=engine, url=server.url, env=provisioned.env,
                database=provisioned.database, operator=provisioned.operator,
                credentials=credentials, config=config, workdir=workdir, run_id=run_id,
                server=server, live_settings=live_settings, overrides=dict(env_overrides or {}),
                describe={**provisioned.describe,
                          "server": _server_line(provisioned.env, config.workers),
                          "auth": credentials.method},
            )
            async with site.resources:
                yield site
        finally:
            server.stop()
