"""gunicorn workers SIGKILLed at random during same-key races: no duplicate, no key stuck.

KEYS keys are each raced by CLIENTS_PER_KEY clients that start together,
through one live gunicorn master (4 workers) on the run's database
(PostgreSQL, or the SQLite file); the keys start half a second apart.
Every request carries the test-only `X-Test-Delay`, so the request that holds
a key sleeps inside its reservation while the others wait on it. Meanwhile a
killer sends SIGKILL to workers of that master (only PIDs from
`GunicornServer.worker_pids()`), a bounded number of times; gunicorn respawns
them. The first kill always hits a worker that is inside its view holding a
reservation (its PID file, IDEMPOTENCY_TEST_PID_DIR, was written less than
the shortest delay ago); the others hit such a holder or any worker, at random.

A client that loses its connection, or gets a clean refusal (409
`idempotency_key_in_use` with Retry-After, 503 with a code), retries the same
request with the same key, bounded in attempts and time. Anything else ends
the client and fails the test.

The random choices (kill targets, pauses, delays, back-offs) come from one
seed, printed at the start; set TAOS_FAULT_SEED to replay a seed. The
interleaving with the server still varies from run to run: the assertions
hold for every interleaving.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from agents.models import Agent
from idempotency.models import IdempotencyRecord
from tests.support.http_auth import basic_auth

pytestmark = [pytest.mark.live]

SEED = int(os.environ.get("TAOS_FAULT_SEED", "6061"))
URL = "/api/agents/"
KEYS = 8
CLIENTS_PER_KEY = 4
KILLS = 6
DELAY_SECONDS = (0.4, 0.8)  # X-Test-Delay of each attempt: the view holds its key this long
# A PID file younger than the shortest delay names a worker still inside its view.
HOLDER_FRESH_SECONDS = 0.3
KILL_PAUSE_SECONDS = (0.2, 0.6)
# Key i's clients start together at i * KEY_STAGGER_SECONDS: each key is a race
# of its own, and together they keep requests in flight for longer than the
# killer needs for its KILLS (about 3 s), even on a fast machine.
KEY_STAGGER_SECONDS = 0.5
FIRST_KILL_AFTER_SECONDS = 0.5
BACKOFF_SECONDS = (0.05, 0.3)
MAX_ATTEMPTS = 40
RACE_DEADLINE_SECONDS = 40
CLEAN_REFUSALS = {409: "idempotency_key_in_use", 503: "database_unavailable"}


@dataclass
class ClientRun:
    """What one racing client sent and got, attempt by attempt."""

    key: str
    outcomes: list[str] = field(default_factory=list)  # "201", "409", "ReadError", ...
    final: httpx.Response | None = None

    def summary(self) -> str:
        return f"{self.key}: {' '.join(self.outcomes) or 'no attempt'}"


@dataclass
class Kill:
    pid: int
    holder: bool  # the worker was inside its view, holding a reservation
    at: float


def display_name(index: int) -> str:
    return f"Kill Race {index}"


def is_clean_refusal(response: httpx.Response) -> bool:
    """Return whether `response` is a documented "retry later" answer."""
    code = CLEAN_REFUSALS.get(response.status_code)
    if code is None:
        return False
    try:
        body_code = response.json().get("code")
    except ValueError:
        return False
    if response.status_code == 409 and "Retry-After" not in response.headers:
        return False
    return body_code == code


async def race_one_client(client: httpx.AsyncClient, *, auth: str, index: int,
                          rng: random.Random, deadline: float) -> ClientRun:
    """Send key `index`'s create until it answers 201 or fails uncleanly (bounded)."""
    run = ClientRun(key=f"kill-race-{index}")
    await asyncio.sleep(index * KEY_STAGGER_SECONDS + rng.uniform(0, 0.1))
    for _ in range(MAX_ATTEMPTS):
        if time.monotonic() > deadline:
            break
        headers = {"Authorization": auth, "Idempotency-Key": run.key,
                   "X-Test-Delay": f"{rng.uniform(*DELAY_SECONDS):.2f}"}
        try:
            response = await client.post(URL, json={"display_name": display_name(index)},
                                         headers=headers)
        except httpx.TransportError as exc:  # its worker died: no answer
            run.outcomes.append(type(exc).__name__)
        else:
            run.outcomes.append(str(response.status_code))
            if response.status_code == 201 or not is_clean_refusal(response):
                run.final = response
                return run
        await asyncio.sleep(rng.uniform(*BACKOFF_SECONDS))
    return run


def fresh_holders(pid_dir: Path, workers: set[int]) -> set[int]:
    """Return the workers that began holding a reservation less than HOLDER_FRESH_SECONDS ago."""
    now = time.time()
    holders = set()
    for path in pid_dir.glob("*.pid"):
        try:
            if now - path.stat().st_mtime < HOLDER_FRESH_SECONDS:
                holders.add(int(path.read_text()))
        except (FileNotFoundError, ValueError):
            continue  # replaced under us
    return holders & workers


async def kill_workers(server, pid_dir: Path, rng: random.Random,
                       done: asyncio.Event, started: float) -> list[Kill]:
    """SIGKILL up to KILLS workers of `server` while the clients race."""
    kills: list[Kill] = []
    await asyncio.sleep(FIRST_KILL_AFTER_SECONDS)
    while len(kills) < KILLS and not done.is_set():
        workers = set(server.worker_pids())
        holders = fresh_holders(pid_dir, workers)
        want_holder = not kills or rng.random() < 0.5
        if len(workers) < 2 or (not kills and not holders):
            await asyncio.sleep(0.02)  # let gunicorn respawn / wait for a holder
            continue
        pool = holders if want_holder and holders else workers
        pid = rng.choice(sorted(pool))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        kills.append(Kill(pid=pid, holder=pid in holders, at=time.monotonic() - started))
        await asyncio.sleep(rng.uniform(*KILL_PAUSE_SECONDS))
    return kills


async def race_with_kills(server, pid_dir: Path, auth: str
                          ) -> tuple[list[ClientRun], list[Kill], float]:
    rng = random.Random(SEED)
    started = time.monotonic()
    deadline = started + RACE_DEADLINE_SECONDS
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        clients = [
            race_one_client(client, auth=auth, index=index, deadline=deadline,
                            rng=random.Random(f"{SEED}-{index}-{n}"))
            for index in range(KEYS) for n in range(CLIENTS_PER_KEY)
        ]
        killer = asyncio.create_task(kill_workers(server, pid_dir, rng, done, started))
        runs = await asyncio.gather(*clients)
        done.set()
        kills = await killer
    return runs, kills, time.monotonic() - started


def test_workers_killed_during_same_key_races_leave_one_agent_per_key_and_no_key_stuck(
        gunicorn_factory, make_user, tmp_path):
    make_user("admin", superuser=True)
    auth = basic_auth("admin")
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    server = gunicorn_factory(workers=4, IDEMPOTENCY_TEST_PID_DIR=str(pid_dir))
    print(f"worker-kill fault test: seed {SEED} (TAOS_FAULT_SEED={SEED} replays it)")

    runs, kills, elapsed = asyncio.run(race_with_kills(server, pid_dir, auth))
    outcomes = Counter(outcome for run in runs for outcome in run.outcomes)
    report = (f"seed={SEED} elapsed={elapsed:.1f}s kills={kills} outcomes={dict(outcomes)}\n"
              + "\n".join(run.summary() for run in runs))
    print(report)
    context = f"{report}\n--- gunicorn log ---\n{server.log_tail(80)}"

    # The faults happened, and hit requests in flight: otherwise the test proved nothing.
    assert len(kills) == KILLS, context
    assert kills[0].holder, context
    lost = sum(n for outcome, n in outcomes.items() if not outcome.isdigit())
    assert lost >= 1, context
    server.wait_ready()  # gunicorn respawned every killed worker
    assert server.log_tail(10**6).count("was sent SIGKILL") == KILLS, context

    # Every client ended with a 201; no other answer than 201 and clean refusals.
    assert all(run.final is not None and run.final.status_code == 201 for run in runs), context
    answered = {outcome for outcome in outcomes if outcome.isdigit()}
    assert answered <= {"201", "409", "503"}, context

    for index in range(KEYS):
        key = f"kill-race-{index}"
        finals = [run.final for run in runs if run.key == key]
        bodies = {response.content for response in finals}
        # One body per key, and at most one answer from a run of the view.
        assert len(bodies) == 1, (key, bodies, context)
        executed = [r for r in finals if r.headers["Idempotent-Replayed"] == "false"]
        assert len(executed) <= 1, (key, context)
        agent = Agent.objects.get(display_name=display_name(index))  # exactly one
        assert finals[0].json()["id"] == agent.pk

        # No key stuck: a later retry replays the stored answer at once.
        retry = httpx.post(f"{server.url}{URL}", json={"display_name": display_name(index)},
                           headers={"Authorization": auth, "Idempotency-Key": key},
                           timeout=10)
        assert retry.status_code == 201, (key, retry.text, context)
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.content == finals[0].content

    assert Agent.objects.count() == KEYS
    records = IdempotencyRecord.objects.all()
    assert sorted(r.key for r in records) == sorted(f"kill-race-{i}" for i in range(KEYS))
    assert {r.response_status for r in records} == {201}
