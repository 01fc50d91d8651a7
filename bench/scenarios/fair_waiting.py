"""Waiting is fair: a retry storm on one key, another reader's latency, the host's memory.

- `same_key_storm`: `rounds` times, a reader sends `GET /api/agents/` in a
  loop (one at a time) for 1.5 s, then 64 identical keyed creates arrive at
  once on a view held 3 s (`X-Test-Delay`, the test-only settings), and the
  reader goes on for the 3 s they last. Rows: the reader's p99 during the
  storm / its p99 before (median of the per-round ratios), its slowest read
  during the storm (median of rounds, the worst in the note), its p50
  before and during; the storm's agents (1 in every round) and its answers
  that are neither a 201 nor a 409 with Retry-After (0 in every round);
  201s and 409s are counted in the note.
- `make_run_pss` (SQLite engine only: `make run` is the embedded default):
  PSS of the whole `make run` process tree (make, gunicorn master and
  workers as gunicorn.conf.py makes them, the deploy worker), idle after
  1,000 requests (bench/memory.py).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter

from bench import memory
from bench.registry import REGISTRY, MeasureRow, Target
from bench.running_site import Site
from bench.scenarios.common import (
    AGENTS,
    IDEMPOTENCY_KEY,
    REPLAYED_HEADER,
    every_round_row,
    median_row,
)
from bench.scenarios.idempotency import DELAY_HEADER, is_fair_answer
from bench.stats import percentile

STORM_REQUESTS = 64
STORM_HOLD_SECONDS = 3.0
READ_BEFORE_SECONDS = 1.5
PSS_REQUESTS = 1000


async def _read_loop(client, until: float) -> list[float]:
    latencies = []
    while time.monotonic() < until:
        started = time.perf_counter()
        reply = await client.get(AGENTS)
        if reply.status_code != 200:
            raise RuntimeError(f"the reader's GET answered {reply.status_code}")
        latencies.append(time.perf_counter() - started)
    return latencies


@REGISTRY.special("same_key_storm", title=f"{STORM_REQUESTS} concurrent requests, one key, view "
                                          f"held {STORM_HOLD_SECONDS:g} s, while another client "
                                          f"reads {AGENTS} in a loop")
async def same_key_storm(site: Site) -> list[MeasureRow]:
    live = await site.with_live_settings()
    ratios, slowest, p50_before, p50_during, p99_before, p99_during = [], [], [], [], [], []
    made, unfair, created, refused, replayed = [], [], [], [], []
    async with live.client(concurrency=STORM_REQUESTS) as storm_client, \
            live.client(concurrency=1) as reader:
        await _read_loop(reader, time.monotonic() + 0.5)  # warm-up, unrecorded
        for _ in range(site.config.rounds):
            before = await _read_loop(reader, time.monotonic() + READ_BEFORE_SECONDS)
            key, body = live.fresh_key(), {"display_name": live.unique_name("bench storm")}
            headers = {IDEMPOTENCY_KEY: key, DELAY_HEADER: f"{STORM_HOLD_SECONDS}"}
            storm = asyncio.create_task(_burst(storm_client, body, headers))
            await asyncio.sleep(0.01)
            during = await _read_loop(reader, time.monotonic() + STORM_HOLD_SECONDS)
            answers = await storm
            made.append(await asyncio.to_thread(
                live.database.scalar, "SELECT count(*) FROM agents_agent WHERE display_name = %s",
                (body["display_name"],)))
            unfair.append(sum(1 for a in answers if not is_fair_answer(a)))
            statuses = Counter(a.status for a in answers)
            created.append(statuses[201])
            refused.append(statuses[409])
            replayed.append(sum(1 for a in answers if a.response is not None
                                and a.response.headers.get(REPLAYED_HEADER) == "true"))
            p99_before.append(percentile(before, 99))
            p99_during.append(percentile(during, 99))
            p50_before.append(statistics.median(before))
            p50_during.append(statistics.median(during))
            ratios.append(p99_during[-1] / p99_before[-1])
            slowest.append(max(during))
    ms = 1000
    return [
        median_row("reader p99 during the storm / before", ratios, "x", Target("<=", 3.0),
                   note=f"p99 before {statistics.median(p99_before) * ms:.1f} ms, during "
                        f"{statistics.median(p99_during) * ms:.1f} ms (medians of rounds)"),
        median_row("reader's slowest read during the storm", slowest, "s", Target("<=", 0.5),
                   note=f"worst round {max(slowest):.3f} s"),
        median_row("reader p50 before the storm", [v * ms for v in p50_before], "ms", None),
        median_row("reader p50 during the storm", [v * ms for v in p50_during], "ms", None),
        every_round_row("storm: agents made", made, Target("==", 1)),
        every_round_row("storm: answers neither 201 nor 409 + Retry-After", unfair,
                        Target("==", 0),
                        note=f"201s {min(created)}–{max(created)} a round ({REPLAYED_HEADER}: "
                             f"true on {min(replayed)}–{max(replayed)}), 409s "
                             f"{min(refused)}–{max(refused)}"),
    ]


async def _burst(client, body, headers):
    from bench.load import burst

    return await burst(lambda i: client.post(AGENTS, json=body, headers=headers), STORM_REQUESTS)


@REGISTRY.special("make_run_pss", title="PSS of the make run process tree, idle after "
                                        f"{PSS_REQUESTS:,} requests", when="sqlite")
async def make_run_pss(site: Site) -> list[MeasureRow]:
    sizes, counts = [], []
    # ~35 s a measure here (a fresh make run, 1,000 requests, idle): 3, or 1 below 8 rounds.
    for _ in range(3 if site.config.rounds >= 8 else 1):
        measured = await asyncio.to_thread(memory.measure_make_run, requests=PSS_REQUESTS)
        sizes.append(measured.pss_mb)
        counts.append(len(measured.processes))
    return [median_row("PSS of the make run tree", sizes, "MB", Target("<=", 200.0),
                       note=f"{max(counts)} processes (make, gunicorn master and "
                            "workers, the deploy worker it forks); gunicorn.conf.py defaults")]
