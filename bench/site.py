"""What a scenario is handed: the running site on one engine and its tools."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.auth import Credentials
from bench.config import RunConfig
from bench.dbtools import BenchDatabase
from bench.engines import Engine, Operator
from bench.load import Load
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
    state: dict[str, Any] = field(default_factory=dict)  # scenario setups, by name
    _names: itertools.count = field(default_factory=itertools.count)

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
