"""The peer column: ours and drf-idempotency 1.0.0 on one lab view, same run, alternated rounds.

The lab (bench/peer_lab/) is one model and one DRF create view, served by
gunicorn (the site's gunicorn.conf.py, `workers` sync workers) once per side
on its own database next to the engine's (`<bench db>_peer`, or a SQLite
file), with the engine's Redis:

- `control`: no idempotency;
- `drf`: drf-idempotency's middleware, Redis backend (engines with Redis
  only: it has no Redis-less fast path worth the name);
- `ours`: `@idempotent`, with the Redis fast path where the engine has Redis;
- `ours_db`: `@idempotent`, IDEMPOTENCY_REDIS_FAST_PATH=0 (engines with Redis).

Each round runs every side's loads back to back, the sides' order reversed
every other round, and within a side "no key" and "fresh key" swap order
every other round. Per side and round: fresh key / no key throughput (the
same server), the p50 a key adds at concurrency 1, and replay / fresh key
throughput. The control's no key / no key (A/A) ratio measured the same
way is the noise floor: "ours ahead of theirs" needs ours / theirs above
1 by more than the A/A ratio's widest distance from 1.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import os
import secrets
import statistics
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.dbtools import drop_server_database, recreate_server_database
from bench.engines import VENDOR_TITLES, base_env, run_django
from bench.load import BenchClient, Load, Reply, Samples, drive
from bench.registry import REGISTRY, MeasureRow, Target
from bench.running_site import Site, _with_database_suffix
from harness.gunicorn import GunicornServer

NOTES = "/notes/"
KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
LAB_APP = "bench.peer_lab.wsgi:application"
LAB_SETTINGS = "bench.peer_lab.settings"
# Concurrency-1 loads: latency, not throughput (a fraction of a round's requests).
SERIAL_SHARE = 0.5

# Targets of the issue (docs/bench.md "Peer column").
FRESH_TARGET = {"redis": Target(">=", 0.90), "sqlite": Target(">=", 0.85),
                "default": Target(">=", 0.90)}
ADDED_P50_TARGET = Target("<=", 0.5, "ms")
REPLAY_TARGET = {"redis": Target(">=", 1.5)}

# Side name -> (PEER_LAB_SIDE, extra settings, title).
SIDES: dict[str, tuple[str, dict[str, str], str]] = {
    "control": ("control", {}, "control (no idempotency)"),
    "drf": ("drf", {}, "drf-idempotency 1.0.0 (middleware, Redis backend)"),
    "ours": ("ours", {}, "ours, @idempotent (Redis fast path where the engine has Redis)"),
    "ours_db": ("ours", {"IDEMPOTENCY_REDIS_FAST_PATH": "0"},
                "ours, @idempotent, database path (IDEMPOTENCY_REDIS_FAST_PATH=0)"),
    # With --peer-baseline: the same, from another version of the package.
    "base": ("ours", {}, "ours (baseline), Redis fast path where the engine has Redis"),
    "base_db": ("ours", {"IDEMPOTENCY_REDIS_FAST_PATH": "0"},
                "ours (baseline), database path"),
}


def theirs_installed() -> bool:
    """Whether drf-idempotency is here (requirements-bench.txt; not requirements-dev.txt)."""
    return importlib.util.find_spec("drf_idempotency") is not None


def sides_for(site: Site) -> list[str]:
    """The sides that run on `site`'s engine: theirs needs Redis, as does our database-path variant."""
    baseline = site.config.peer_baseline is not None
    if site.engine.cache != "redis":
        return ["control", "ours", *(["base"] if baseline else [])]
    return ["control", *(["drf"] if theirs_installed() else []), "ours", "ours_db",
            *(["base", "base_db"] if baseline else [])]


def theirs_missing_reason(site: Site) -> str:
    if site.engine.cache != "redis":
        return "drf-idempotency: not run (it needs Redis)"
    if not theirs_installed():
        return "drf-idempotency: not run (not installed: requirements-bench.txt)"
    return ""


@dataclass
class SideRounds:
    """Per-round numbers of one side."""

    fresh_ratio: list[float] = field(default_factory=list)     # fresh key / no key throughput
    added_p50_ms: list[float] = field(default_factory=list)    # c=1 p50, fresh key minus no key
    replay_ratio: list[float] = field(default_factory=list)    # replay / fresh key throughput
    aa_ratio: list[float] = field(default_factory=list)        # control: no key / no key
    fresh_rps: list[float] = field(default_factory=list)
    plain_rps: list[float] = field(default_factory=list)


@dataclass
class LabServer:
    name: str
    url: str
    server: GunicornServer
    replay_key: str = ""
    replay_body: dict[str, Any] = field(default_factory=dict)
    replay_content: bytes = b""


def _lab_env(site: Site, database_url: str, sqlite_path: Path | None, extra: dict[str, str],
             side: str) -> dict[str, str]:
    env = base_env()
    env.update({"DJANGO_SETTINGS_MODULE": LAB_SETTINGS, "PEER_LAB_SIDE": side,
                "PEER_LAB_KEY_PREFIX": f"peerlab-{site.run_id}",
                "TAOS_PRELOAD_APP": "1", **extra})
    if database_url:
        env["PEER_LAB_DATABASE_URL"] = database_url
    else:
        env["PEER_LAB_SQLITE_PATH"] = str(sqlite_path)
    if site.engine.cache == "redis":
        env["PEER_LAB_REDIS_URL"] = site.config.redis_url
    return env


def _with_baseline(env: dict[str, str], baseline: Path) -> dict[str, str]:
    """`env` importing the idempotency package from `baseline` (ahead of the installed one)."""
    return {**env, "PYTHONPATH": os.pathsep.join(
        p for p in (str(baseline.resolve()), env.get("PYTHONPATH", "")) if p)}


@contextmanager
def _lab_database(site: Site) -> Iterator[tuple[str, Path | None]]:
    """Create the lab's database beside the engine's; drop it on exit."""
    if site.engine.database in VENDOR_TITLES:
        url = _with_database_suffix(site.engine.database_url(site.config), "_peer")
        recreate_server_database(site.engine.database, url)
        try:
            yield url, None
        finally:
            if not site.config.keep:
                drop_server_database(site.engine.database, url)
    else:
        yield "", site.workdir / "peer_lab.sqlite3"


def _body() -> dict[str, str]:
    return {"title": f"peer {secrets.token_hex(6)}", "body": "a note of the peer lab"}


def _created(reply: Reply) -> bool:
    return reply.status_code == 201


def _executed(reply: Reply) -> bool:
    return reply.status_code == 201 and reply.headers.get(REPLAYED) == "false"


async def plain_creates(lab: LabServer, load: Load) -> Samples:
    """Creates without a key on `lab` under `load`."""
    async with BenchClient(lab.url, size=load.concurrency) as client:
        return await drive(lambda i: client.post(NOTES, json=_body()), load=load, check=_created)


async def fresh_creates(lab: LabServer, load: Load) -> Samples:
    """Creates with a fresh Idempotency-Key each on `lab` under `load`.

    Each must say it ran (`Idempotent-Replayed: false`), except on the
    control, which ignores the key.
    """
    check = _created if lab.name == "control" else _executed
    async with BenchClient(lab.url, size=load.concurrency) as client:
        return await drive(lambda i: client.post(NOTES, json=_body(),
                                                 headers={KEY: secrets.token_urlsafe(18)}),
                           load=load, check=check)


async def _replays(lab: LabServer, load: Load) -> Samples:
    def is_replay(reply: Reply) -> bool:
        return reply.headers.get(REPLAYED) == "true" and reply.content == lab.replay_content

    async with BenchClient(lab.url, size=load.concurrency) as client:
        return await drive(lambda i: client.post(NOTES, json=lab.replay_body,
                                                 headers={KEY: lab.replay_key}),
                           load=load, check=is_replay)


async def _complete_key(lab: LabServer) -> None:
    """Create one note with a key (unmeasured) and replay it once, so Redis holds it where it can."""
    lab.replay_key, lab.replay_body = secrets.token_urlsafe(18), _body()
    async with BenchClient(lab.url, size=1) as client:
        first = await client.post(NOTES, json=lab.replay_body, headers={KEY: lab.replay_key})
        again = await client.post(NOTES, json=lab.replay_body, headers={KEY: lab.replay_key})
    if first.status_code != 201 or again.headers.get(REPLAYED) != "true" \
            or again.content != first.content:
        raise RuntimeError(f"peer lab {lab.name}: a keyed create answered {first.status_code}, "
                           f"its retry {again.status_code} {again.headers.get(REPLAYED)}: "
                           f"{first.text[:200]} / {again.text[:200]}")
    lab.replay_content = first.content


def checked(lab: LabServer, what: str, samples: Samples) -> Samples:
    """`samples`, unless a reply was not a 201 (raised with the lab's log tail)."""
    if samples.unexpected({201}):
        raise RuntimeError(f"peer lab {lab.name}, {what}: unexpected answers "
                           f"{samples.status_counts()}\n{lab.server.log_tail(20)}")
    return samples


async def _side_round(lab: LabServer, rounds: SideRounds, *, load: Load, serial: Load,
                      fresh_first: bool) -> None:
    if lab.name == "control":
        first = checked(lab, "no key", await plain_creates(lab, load))
        second = checked(lab, "no key again", await plain_creates(lab, load))
        rounds.aa_ratio.append(first.throughput / second.throughput)
        rounds.plain_rps.extend([first.throughput, second.throughput])
        return
    order = ("fresh", "plain") if fresh_first else ("plain", "fresh")
    measured: dict[str, Samples] = {}
    for what in order:
        run = fresh_creates if what == "fresh" else plain_creates
        measured[what] = checked(lab, what, await run(lab, load))
    rounds.fresh_rps.append(measured["fresh"].throughput)
    rounds.plain_rps.append(measured["plain"].throughput)
    rounds.fresh_ratio.append(measured["fresh"].throughput / measured["plain"].throughput)
    serial_samples: dict[str, Samples] = {}
    for what in order:
        run = fresh_creates if what == "fresh" else plain_creates
        serial_samples[what] = checked(lab, f"{what}, concurrency 1", await run(lab, serial))
    rounds.added_p50_ms.append(serial_samples["fresh"].latency_ms(50)
                               - serial_samples["plain"].latency_ms(50))
    replays = checked(lab, "replay", await _replays(lab, load))
    rounds.replay_ratio.append(replays.throughput / measured["fresh"].throughput)


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def _spread(values: list[float], unit: str = "") -> str:
    if not values:
        return "no rounds"
    return f"min–max {min(values):.2f}–{max(values):.2f}{unit} over {len(values)} rounds"


def peer_rows(results: dict[str, SideRounds], sides: list[str], *,
              theirs_note: str = "") -> list[MeasureRow]:
    """The table's rows: the A/A floor, then each measure for every side side by side."""
    aa = results["control"].aa_ratio
    noise = max((abs(v - 1.0) for v in aa), default=math.nan)
    rows = [MeasureRow("control A/A: no key / no key throughput (median of rounds)",
                       _median(aa), note=f"{_spread(aa)}; noise floor ±{noise:.2f}",
                       detail={"rounds": aa, "side": "control", "metric": "aa"})]
    for name in sides:
        if name == "control":
            continue
        r = results[name]
        title = SIDES[name][2]
        rows.append(MeasureRow(
            f"{title}: fresh key / no key throughput", _median(r.fresh_ratio),
            target=None if name in ("drf", "base", "base_db") else FRESH_TARGET,
            note=_spread(r.fresh_ratio) + (f"; {theirs_note}" if theirs_note else ""),
            detail={"rounds": r.fresh_ratio, "side": name, "metric": "fresh_ratio",
                    "fresh_rps": r.fresh_rps, "plain_rps": r.plain_rps,
                    "theirs_not_run": theirs_note}))
        rows.append(MeasureRow(
            f"{title}: added p50 at concurrency 1", _median(r.added_p50_ms), "ms",
            target=None if name in ("drf", "base", "base_db") else ADDED_P50_TARGET,
            note=_spread(r.added_p50_ms, " ms"),
            detail={"rounds": r.added_p50_ms, "side": name, "metric": "added_p50_ms"}))
        rows.append(MeasureRow(
            f"{title}: replay / fresh key throughput", _median(r.replay_ratio),
            target=REPLAY_TARGET if name == "ours" else None,
            note=_spread(r.replay_ratio),
            detail={"rounds": r.replay_ratio, "side": name, "metric": "replay_ratio"}))
    for name, base in (("ours", "base"), ("ours_db", "base_db")):
        if base in sides:
            per_round = [o / b for o, b in zip(results[name].fresh_ratio,
                                               results[base].fresh_ratio)]
            rows.append(MeasureRow(
                f"{SIDES[name][2]} vs the baseline: (fresh/no key) ours / baseline",
                _median(per_round), note=_spread(per_round),
                detail={"rounds": per_round, "side": name, "metric": "ours_over_baseline"}))
    if "drf" in sides:
        theirs = results["drf"].fresh_ratio
        for name in ("ours", "ours_db"):
            ours = results[name].fresh_ratio
            per_round = [o / t for o, t in zip(ours, theirs)]
            rows.append(MeasureRow(
                f"{SIDES[name][2]} vs drf-idempotency: (fresh/no key) ours / theirs",
                _median(per_round),
                target=Target(">=", round(1.0 + noise, 3)) if not math.isnan(noise) else None,
                note=f"{_spread(per_round)}; ahead beyond noise needs > 1 + the A/A floor",
                detail={"rounds": per_round, "side": name, "metric": "ours_over_theirs"}))
    return rows


@REGISTRY.special("peer_column", title="peer column: the lab view (bench/peer_lab/) with no "
                                       "idempotency, drf-idempotency 1.0.0 and ours, alternated "
                                       "rounds")
async def peer_column(site: Site) -> list[MeasureRow]:
    config = site.config
    sides = sides_for(site)
    load = Load(concurrency=config.concurrency, requests=config.requests)
    serial = Load(concurrency=1, requests=max(10, int(config.requests * SERIAL_SHARE)))
    results = {name: SideRounds() for name in sides}
    with _lab_database(site) as (database_url, sqlite_path):
        envs = {name: _lab_env(site, database_url, sqlite_path, SIDES[name][1], SIDES[name][0])
                for name in sides}
        for name in ("base", "base_db"):
            if name in envs:
                envs[name] = _with_baseline(envs[name], config.peer_baseline)
        await asyncio.to_thread(run_django, {**envs["control"], "PEER_LAB_SIDE": "ours"},
                                "-m", "django", "migrate", "-v0")
        async with AsyncExitStack() as stack:
            labs: list[LabServer] = []
            for name in sides:
                server = GunicornServer(env=envs[name], workers=config.workers, app=LAB_APP,
                                        log_path=site.workdir / f"peer-{name}.log")
                stack.callback(server.stop)
                await asyncio.to_thread(server.start)
                labs.append(LabServer(name=name, url=server.url, server=server))
            warm = Load(concurrency=config.concurrency, requests=max(config.warmup, 4))
            for lab in labs:
                if lab.name != "control":
                    await _complete_key(lab)
                    await fresh_creates(lab, warm)
                await plain_creates(lab, warm)
            for n in range(config.rounds):
                ordered = labs if n % 2 == 0 else labs[::-1]
                for lab in ordered:
                    await _side_round(lab, results[lab.name], load=load, serial=serial,
                                      fresh_first=n % 2 == 1)
    return peer_rows(results, sides, theirs_note=theirs_missing_reason(site))
