"""The knobs of one benchmark run, with the defaults `make bench` uses."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent

DEFAULT_ENGINES = ("postgres-redis", "sqlite", "mariadb-redis")
# The bench drops and recreates these databases: their names must contain "bench".
DEFAULT_PG_URL = "postgres://root@127.0.0.1:5432/taos_bench_run"
DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/taos_bench_run"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class RunConfig:
    rounds: int = 8
    requests: int = 200           # per scenario per round
    concurrency: int = 8          # requests in flight
    warmup: int = 40              # unrecorded requests per scenario before round 1
    workers: int = 4              # gunicorn workers
    big_rows: int = 1_000_000     # size of the bulk-loaded tables of big-table measures
    engines: tuple[str, ...] = DEFAULT_ENGINES
    only: tuple[str, ...] = ()
    everything: bool = False      # also the reference items (not in the default run)
    auth: str = "operator_token"  # one query a request; "session" costs two
    live_settings: bool = False      # the main servers; items that need them start a variant
    pg_url: str = field(default_factory=lambda: os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL))
    mysql_url: str = field(default_factory=lambda: os.environ.get("BENCH_MYSQL_URL",
                                                                  DEFAULT_MYSQL_URL))
    redis_url: str = field(default_factory=lambda: (
        os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    ))
    out_dir: Path = BENCH_DIR
    plot: bool = True
    keep: bool = False            # keep the bench databases and logs for a look afterwards
    smoke: bool = False
    static_root: Path | None = None  # set by bench/cli.py: one static collection per run
    # The src directory of another version of the idempotency package: the
    # peer column runs it too, as "ours (baseline)" (bench/scenarios/peer.py).
    peer_baseline: Path | None = None

    def smoke_sized(self) -> RunConfig:
        """Return this config shrunk to a quick check that everything runs."""
        return replace(self, rounds=2, requests=20, concurrency=4, warmup=4, workers=2,
                       big_rows=2_000, smoke=True)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["out_dir"] = str(self.out_dir)
        data.pop("static_root")
        data["peer_baseline"] = str(self.peer_baseline) if self.peer_baseline else None
        data["pg_url"] = _without_password(self.pg_url)
        data["mysql_url"] = _without_password(self.mysql_url)
        data["redis_url"] = _without_password(self.redis_url)
        return data


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, at, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}{at}{host}"
