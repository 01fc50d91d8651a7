"""Benchmark idempotent creates through gunicorn (4 workers) on PostgreSQL + Redis.

    DATABASE_URL=postgres://root@127.0.0.1:5432/taos_idem \
    REDIS_URL=redis://127.0.0.1:6379/1 .venv/bin/python bench/idempotency.py

The database named by DATABASE_URL is migrated and its agents and
idempotency keys are deleted first: give it a database of its own. Two
gunicorn masters (4 workers each) serve it: one replays through the database
only (IDEMPOTENCY_REDIS_FAST_PATH=0), one with the Redis fast path. The load
generator is aiohttp's client (about 0.4 ms of CPU a request here, against
1.7 ms for httpx: the client shares the 2 cores with the servers),
authenticated by a session cookie (no password hasher on the request path).
Every comparison alternates its two scenarios A B A B for --rounds rounds
of --requests requests at --concurrency, and reports the medians and the
median of per-round ratios.
Servers run with TAOS_TEST_HOOKS=1 for the X-Test-Delay header of the burst.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import string
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

URL = "/api/agents/"
BURST_REQUESTS = 64
BURST_DELAY_SECONDS = "0.3"


@dataclass
class Round:
    scenario: str
    requests: int
    seconds: float
    rate: float
    p50_ms: float
    max_ms: float
    ok: bool
    note: str = ""


@dataclass(frozen=True)
class Answer:
    status: int
    replayed: str | None
    body: bytes


@dataclass
class Comparison:
    a: str
    b: str
    target: str
    rounds: list[tuple[Round, Round]] = field(default_factory=list)

    def median_rate(self, which: int) -> float:
        return statistics.median(pair[which].rate for pair in self.rounds)

    @property
    def ratio(self) -> float:
        return statistics.median(b.rate / a.rate for a, b in self.rounds)


class Client:
    """Session-authenticated HTTP client of one gunicorn master."""

    def __init__(self, base_url: str, session_key: str):
        csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        self.base_url = base_url
        self.headers = {"Cookie": f"sessionid={session_key}; csrftoken={csrf}",
                        "X-CSRFToken": csrf}

    async def run(self, scenario: str, bodies_and_headers: list[tuple[dict, dict]],
                  concurrency: int, check) -> Round:
        queue = list(enumerate(bodies_and_headers))
        latencies: list[float] = []
        responses: list[Answer] = []
        # gunicorn's sync workers close every connection: so does the client.
        connector = aiohttp.TCPConnector(limit=concurrency, force_close=True)
        async with aiohttp.ClientSession(self.base_url, connector=connector) as http:
            async def worker() -> None:
                while queue:
                    _, (body, extra) = queue.pop()
                    started = time.perf_counter()
                    async with http.post(URL, json=body,
                                         headers={**self.headers, **extra}) as response:
                        content = await response.read()
                    latencies.append(time.perf_counter() - started)
                    responses.append(Answer(response.status,
                                            response.headers.get("Idempotent-Replayed"),
                                            content))

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            seconds = time.perf_counter() - started
        ok, note = check(responses)
        return Round(scenario=scenario, requests=len(responses), seconds=seconds,
                     rate=len(responses) / seconds,
                     p50_ms=statistics.median(latencies) * 1000,
                     max_ms=max(latencies) * 1000, ok=ok, note=note)


def all_status(expected: int, replayed: str | None = None, same_body: bool = False):
    def check(responses: list[Answer]) -> tuple[bool, str]:
        statuses = {r.status for r in responses}
        flags = {r.replayed for r in responses}
        bodies = {r.body for r in responses}
        ok = (statuses == {expected} and (replayed is None or flags == {replayed})
              and (not same_body or len(bodies) == 1))
        return ok, "" if ok else (f"statuses {sorted(statuses)}, replayed "
                                  f"{sorted(map(str, flags))}, {len(bodies)} bodies")
    return check


def create_requests(n: int, *, keyed: bool) -> list[tuple[dict, dict]]:
    return [({"display_name": f"bench {uuid.uuid4().hex[:12]}"},
             {"Idempotency-Key": str(uuid.uuid4())} if keyed else {}) for _ in range(n)]


async def replay_requests(client: Client, n: int) -> list[tuple[dict, dict]]:
    """Create one agent with a key (unmeasured); return n retries of that request."""
    body, extra = create_requests(1, keyed=True)[0]
    await client.run("setup", [(body, extra)], 1, all_status(201))
    return [(body, extra)] * n


def setup_django(database_url: str) -> str:
    """Migrate, clear the bench tables, and return a logged-in session key."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tinyagentos_site.settings")
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from agents.models import Agent
    from idempotency.models import IdempotencyRecord

    call_command("migrate", verbosity=0)
    Agent.objects.all().delete()
    IdempotencyRecord.objects.all().delete()
    user, _ = User.objects.get_or_create(username="bench", defaults={"is_superuser": True,
                                                                     "is_staff": True})
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def agents_named(display_name: str) -> int:
    from agents.models import Agent

    return Agent.objects.filter(display_name=display_name).count()


async def compare(comparison: Comparison, rounds: int, run_a, run_b) -> Comparison:
    for _ in range(rounds):
        comparison.rounds.append((await run_a(), await run_b()))
    return comparison


async def burst(client: Client, label: str) -> Round:
    display_name = f"burst {uuid.uuid4().hex[:12]}"
    request = ({"display_name": display_name},
               {"Idempotency-Key": str(uuid.uuid4()), "X-Test-Delay": BURST_DELAY_SECONDS})
    result = await client.run(label, [request] * BURST_REQUESTS, BURST_REQUESTS,
                              all_status(201, same_body=True))
    agents = await asyncio.to_thread(agents_named, display_name)
    result.ok = result.ok and agents == 1
    result.note = f"agents={agents}" + (f"; {result.note}" if result.note else "")
    return result


async def main_async(args: argparse.Namespace, db: Client, redis: Client) -> dict:
    n, c, rounds = args.requests, args.concurrency, args.rounds

    # Warm every worker of both masters (imports, connections) before measuring.
    for client in (db, redis):
        await client.run("warm-up", create_requests(4 * c, keyed=True), c, all_status(201))

    async def plain() -> Round:
        return await db.run("create, no key", create_requests(n, keyed=False), c,
                            all_status(201))

    async def fresh(client: Client = db) -> Round:
        return await client.run("create, fresh key", create_requests(n, keyed=True), c,
                                all_status(201, "false"))

    async def replay(client: Client, label: str) -> Round:
        return await client.run(label, await replay_requests(client, n), c,
                                all_status(201, "true", same_body=True))

    anonymous = Client(db.base_url, session_key="")
    anonymous.headers = {}
    ceiling = [await anonymous.run("401, no database work", create_requests(n, keyed=False), c,
                                   all_status(401)) for _ in range(rounds)]

    comparisons = [
        await compare(Comparison("create, no key", "create, fresh key", ">= 0.90"),
                      rounds, plain, fresh),
        await compare(Comparison("create, fresh key", "replay (database)", ">= 2.0"),
                      rounds, fresh, lambda: replay(db, "replay (database)")),
        await compare(Comparison("create, fresh key (Redis server)", "replay (Redis fast path)",
                                 ">= 2.5"),
                      rounds, lambda: fresh(redis),
                      lambda: replay(redis, "replay (Redis fast path)")),
    ]
    bursts: list[tuple[Round, Round]] = []
    for _ in range(rounds):
        bursts.append((await burst(redis, "64 same-key, Redis"),
                       await burst(db, "64 same-key, database")))
    return {"comparisons": comparisons, "bursts": bursts, "ceiling": ceiling}


def report(args: argparse.Namespace, result: dict) -> str:
    lines = [
        f"gunicorn 4 workers per master, PostgreSQL + Redis; {args.rounds} rounds per "
        f"scenario alternated A B; {args.requests} requests a round at concurrency "
        f"{args.concurrency}; medians.",
        "",
        "| A | A req/s | B | B req/s | B/A (median of rounds) | target | all answers right |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    ceiling = statistics.median(r.rate for r in result["ceiling"])
    lines.insert(1, f"Ceiling of the HTTP stack here (unauthenticated POST answered 401, no "
                    f"database work): {ceiling:.0f} req/s.")
    for comp in result["comparisons"]:
        ok = all(a.ok and b.ok for a, b in comp.rounds)
        lines.append(f"| {comp.a} | {comp.median_rate(0):.0f} | {comp.b} | "
                     f"{comp.median_rate(1):.0f} | {comp.ratio:.2f} | {comp.target} | "
                     f"{'yes' if ok else 'NO'} |")
    lines += [
        "",
        f"{BURST_REQUESTS} concurrent same-key creates, {BURST_DELAY_SECONDS} s test-only "
        "view delay (target: 1 agent, all 201, slowest <= 0.8 s):",
        "",
        "| server | slowest answer, median (s) | slowest, worst round (s) | rounds with 1 agent "
        "and 64 x 201 |",
        "|---|---:|---:|---:|",
    ]
    for index, label in ((0, "Redis fast path"), (1, "database only")):
        runs = [pair[index] for pair in result["bursts"]]
        good = sum(r.ok for r in runs)
        lines.append(f"| {label} | {statistics.median(r.max_ms for r in runs) / 1000:.2f} | "
                     f"{max(r.max_ms for r in runs) / 1000:.2f} | {good}/{len(runs)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200, help="requests a round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "idempotency.json"))
    args = parser.parse_args()
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not (database_url or "").startswith("postgres") or not redis_url:
        parser.error("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    from tests.live import LiveServer

    session_key = setup_django(database_url)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "TAOS_TEST_HOOKS": "1",
           "SECRET_KEY": os.environ["SECRET_KEY"], "TAOS_GUNICORN_LOG_LEVEL": "warning"}
    servers = [
        LiveServer(env={**env, "IDEMPOTENCY_REDIS_FAST_PATH": "0"}, workers=args.workers,
                   log_path=out.with_name("idempotency-db.log")),
        LiveServer(env={**env, "IDEMPOTENCY_REDIS_FAST_PATH": "1"}, workers=args.workers,
                   log_path=out.with_name("idempotency-redis.log")),
    ]
    try:
        for server in servers:
            server.start()
        result = asyncio.run(main_async(args, Client(servers[0].url, session_key),
                                        Client(servers[1].url, session_key)))
    finally:
        for server in servers:
            server.stop()
    text = report(args, result)
    print(text)
    out.write_text(json.dumps({
        "args": vars(args),
        "comparisons": [{"a": c.a, "b": c.b, "target": c.target, "ratio": c.ratio,
                         "rounds": [[asdict(a), asdict(b)] for a, b in c.rounds]}
                        for c in result["comparisons"]],
        "bursts": [[asdict(a), asdict(b)] for a, b in result["bursts"]],
        "ceiling": [asdict(r) for r in result["ceiling"]],
    }, indent=2))
    ok = all(a.ok and b.ok for c in result["comparisons"] for a, b in c.rounds) and all(
        a.ok and b.ok for a, b in result["bursts"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
