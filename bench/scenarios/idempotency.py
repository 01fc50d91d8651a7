"""Idempotency under load: keyed creates, replays, the same-key race.

Which replay path a measure takes is part of its name:

- on `postgres-redis` and `mariadb-redis` the main server has the Redis fast path on (the
  production setting): `replay` answers from Redis, without a query;
- `replay_db` (engines with Redis only) replays through the database on a
  variant server with IDEMPOTENCY_REDIS_FAST_PATH=0, same database;
- on `sqlite` (and `postgres`) every replay goes through the database.

The big-table measures are in `idempotency_table`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.load import Answer, Check, Load, Reply, Samples, burst, drive
from bench.registry import REGISTRY, MeasureRow, Target
from bench.running_site import DATABASE_REPLAYS, LIVE_SETTINGS, Site
from bench.scenarios.common import (
    AGENTS,
    IDEMPOTENCY_KEY,
    REPLAYED_HEADER,
    every_round_row,
    median_row,
)

# The test-only header of harness/live_views.py (DELAY_HEADER there, as
# a WSGI name); honoured only by servers with the test-only settings
# (DJANGO_SETTINGS_MODULE=harness.live_settings).
DELAY_HEADER = "X-Test-Delay"
RACE_REQUESTS = 64
RACE_DELAY_SECONDS = 0.3


@dataclass(frozen=True)
class CompletedKey:
    """A key whose create has completed, on the server that replays it."""

    site: Site
    key: str
    body: dict[str, Any]
    content: bytes  # the first answer's body: every replay must repeat it

    def is_replay(self, reply: Reply) -> bool:
        return reply.headers.get(REPLAYED_HEADER) == "true" and reply.content == self.content

    async def replays(self, load: Load, stop: asyncio.Event | None = None) -> Samples:
        """Send this key's request again and again; a reply that is not its replay is wrong."""
        async with self.site.client() as client:
            return await drive(
                lambda i: client.post(AGENTS, json=self.body, headers={IDEMPOTENCY_KEY: self.key}),
                load=load, stop=stop, check=self.is_replay,
            )


async def complete_key(site: Site, prefix: str) -> CompletedKey:
    """Create an agent with a fresh key on `site` (unmeasured); return the completed key."""
    key, body = site.fresh_key(), {"display_name": site.unique_name(prefix)}
    async with site.client() as client:
        first = await client.post(AGENTS, json=body, headers={IDEMPOTENCY_KEY: key})
    if first.status_code != 201 or first.headers.get(REPLAYED_HEADER) != "false":
        raise RuntimeError(f"a keyed create answered {first.status_code} "
                           f"({REPLAYED_HEADER}: {first.headers.get(REPLAYED_HEADER)}): "
                           f"{first.text[:300]}")
    return CompletedKey(site=site, key=key, body=body, content=first.content)


def _executed(reply: Reply) -> bool:
    return reply.headers.get(REPLAYED_HEADER) == "false"


# --- Scenarios -----------------------------------------------------------------

async def _keyed_creates(site: Site, load: Load) -> Samples:
    check: Check = _executed
    async with site.client() as client:
        return await drive(
            lambda i: client.post(AGENTS, json={"display_name": site.unique_name("bench keyed")},
                                  headers={IDEMPOTENCY_KEY: site.fresh_key()}),
            load=load, check=check,
        )


@REGISTRY.scenario("create_keyed", title=f"create: POST {AGENTS} with a fresh Idempotency-Key",
                   expect={201})
async def create_keyed(site: Site, state: None, load: Load) -> Samples:
    return await _keyed_creates(site, load)


async def _database_replays_site(site: Site) -> Site:
    return await site.database_replays()


@REGISTRY.scenario("create_keyed_db", title=f"create: POST {AGENTS} with a fresh Idempotency-Key, "
                                            "IDEMPOTENCY_REDIS_FAST_PATH=0",
                   expect={201}, setup=_database_replays_site, when="redis")
async def create_keyed_db(site: Site, variant: Site, load: Load) -> Samples:
    return await _keyed_creates(variant, load)


async def _completed_here(site: Site) -> CompletedKey:
    return await complete_key(site, "bench replay")


@REGISTRY.scenario("replay", title=f"replay: POST {AGENTS} with a completed key "
                                   "(Redis where the engine has it, else the database)",
                   expect={201}, setup=_completed_here)
async def replay(site: Site, completed: CompletedKey, load: Load) -> Samples:
    return await completed.replays(load)


async def _completed_on_database_path(site: Site) -> CompletedKey:
    return await complete_key(await site.database_replays(), "bench replay db")


@REGISTRY.scenario("replay_db", title=f"replay through the database: POST {AGENTS} with a "
                                      "completed key, IDEMPOTENCY_REDIS_FAST_PATH=0",
                   expect={201}, setup=_completed_on_database_path, when="redis")
async def replay_db(site: Site, completed: CompletedKey, load: Load) -> Samples:
    return await completed.replays(load)


# --- Comparisons -----------------------------------------------------------------

REGISTRY.compare(
    "create_keyed_vs_create", title="idempotent create (fresh keys) vs create without a key",
    a="create_keyed", b="create", target=Target(">=", 0.92),
)
REGISTRY.compare(
    "create_keyed_db_vs_create",
    title="idempotent create (fresh keys) vs create without a key, IDEMPOTENCY_REDIS_FAST_PATH=0",
    a="create_keyed_db", b="create", target=Target(">=", 0.92), when="redis",
    note="the keyed creates on a second gunicorn (4 workers) on the same database with the "
         "fast path off (no Redis read before, no Redis write on the first replay); creates on the main one",
)
REGISTRY.compare(
    "replay_vs_create", title="replay vs create", a="replay", b="create",
    target={"redis": Target(">=", 2.5), "database": Target(">=", 2.0)},
    note="replays from Redis on an engine with Redis (target 2.5), else from the database (2)",
)
REGISTRY.compare(
    "replay_db_vs_create",
    title="replay through the database (IDEMPOTENCY_REDIS_FAST_PATH=0) vs create",
    a="replay_db", b="create", target=Target(">=", 2.0), when="redis",
    note="the replays on a second gunicorn (4 workers) on the same database with the fast path "
         "off; creates on the main one",
)
REGISTRY.compare(
    "replay_vs_read", title="replay vs GET /api/agents/{slug}/ by the same client",
    a="replay", b="read", target=Target(">=", 0.6),
)


# --- 64 concurrent requests, one key ----------------------------------------------

async def _same_key_race(site: Site) -> list[MeasureRow]:
    """Send 64 identical keyed creates at once, `rounds` times; the first sleeps 0.3 s.

    The holder and IDEMPOTENCY_WAITERS_PER_KEY waiters of the key are
    admitted; the rest are refused at once with 409 + Retry-After, or replay
    if they arrive after the first finished (docs/idempotency.md, "Fair
    waiting").
    """
    made: list[int] = []
    differing: list[int] = []
    unfair: list[int] = []
    slowest: list[float] = []
    created: list[int] = []
    replayed: list[int] = []
    headers_delay = {DELAY_HEADER: f"{RACE_DELAY_SECONDS}"}
    async with site.client(concurrency=RACE_REQUESTS) as client:
        for _ in range(site.config.rounds):
            key, body = site.fresh_key(), {"display_name": site.unique_name("bench race")}
            headers = {IDEMPOTENCY_KEY: key, **headers_delay}
            answers = await burst(
                lambda i, body=body, headers=headers: client.post(AGENTS, json=body,
                                                                  headers=headers),
                RACE_REQUESTS)
            made.append(await asyncio.to_thread(
                site.database.scalar,
                "SELECT count(*) FROM agents_agent WHERE display_name = %s",
                (body["display_name"],)))
            bodies = Counter(a.response.content for a in answers if a.status == 201)
            created.append(sum(bodies.values()))
            differing.append(sum(bodies.values()) - (bodies.most_common(1)[0][1] if bodies else 0))
            unfair.append(sum(1 for a in answers if not is_fair_answer(a)))
            slowest.append(max(a.latency for a in answers))
            replayed.append(sum(1 for a in answers if a.response is not None
                                and a.response.headers.get(REPLAYED_HEADER) == "true"))
    return [
        every_round_row("agents made", made, Target("==", 1)),
        every_round_row("201s with another body than the first", differing, Target("==", 0),
                        note=f"201s {min(created)}–{max(created)} of {RACE_REQUESTS} a round, "
                             f"{REPLAYED_HEADER}: true on {min(replayed)}–{max(replayed)}"),
        every_round_row("answers neither 201 nor 409 + Retry-After", unfair, Target("==", 0)),
        median_row("slowest answer", slowest, "s", Target("<=", 0.8),
                   note=f"worst round {max(slowest):.3f} s; the view sleeps "
                        f"{RACE_DELAY_SECONDS} s holding the key ({DELAY_HEADER})"),
    ]


def is_fair_answer(answer: Answer) -> bool:
    """Return whether a same-key answer is a 201, or a 409 idempotency_key_in_use with Retry-After."""
    if answer.status == 201:
        return True
    if answer.status != 409:
        return False
    try:
        code = answer.response.json().get("code")
        retry_after = int(answer.response.headers.get("Retry-After", "0"))
    except ValueError:
        return False
    return code == "idempotency_key_in_use" and retry_after >= 1


@REGISTRY.special("same_key_64", title=f"{RACE_REQUESTS} concurrent requests, one key, view "
                                       f"delayed {RACE_DELAY_SECONDS} s (production replay path)")
async def same_key_64(site: Site) -> list[MeasureRow]:
    return await _same_key_race(await site.with_live_settings())


@REGISTRY.special("same_key_64_db", title=f"{RACE_REQUESTS} concurrent requests, one key, view "
                                          f"delayed {RACE_DELAY_SECONDS} s (replays through the "
                                          "database, IDEMPOTENCY_REDIS_FAST_PATH=0)",
                  when="redis")
async def same_key_64_db(site: Site) -> list[MeasureRow]:
    return await _same_key_race(await site.variant({**DATABASE_REPLAYS, **LIVE_SETTINGS}))
