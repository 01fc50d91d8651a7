"""Where a request's time goes: CPU per phase of replay, create, read and agent-token read.

    python -m bench.tools.profile_requests --engine sqlite
    python -m bench.tools.profile_requests --engine postgres-redis [--setting IDEMPOTENCY_REDIS_FAST_PATH=0]

Provisions a fresh database for the engine (as `make bench` does; on
PostgreSQL the bench database is dropped and recreated, name containing
"bench"), then in a subprocess with the site's settings sends each kind of
request through Django's test client (middleware, DRF, views; no gunicorn,
no network), `--requests` times under cProfile, and prints one Markdown
table: CPU ms per request (measured without the profiler), statements per
request, and the share of the profiled time in each phase:

- authentication: DRF `APIView.perform_authentication` (the auth classes);
- permissions: `APIView.check_permissions` (Django's ModelBackend reads the
  user's and the groups' permissions);
- idempotency: the `@idempotent` wrapper and the middleware's finish, less
  the view they call (key, fingerprint, Redis or table lookup, stored
  response, transaction);
- view: the DRF handler (create, retrieve, /api/agent/me/);
- rest: everything else (request and response objects, other middleware,
  rendering, the test client).

The load authenticates with an operator token, as `make bench` does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.config import ROOT, RunConfig
from bench.engines import ENGINES, Operator, provision

INNER = r'''
import cProfile, json, os, pstats, sys, time, uuid
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tinyagentos_site.settings")
import django
django.setup()
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from agents.services import agent_create
from tokens import services

N = int(os.environ["BENCH_PROFILE_REQUESTS"])
user = User.objects.get(username=os.environ["BENCH_PROFILE_USER"])
operator = {"Authorization": "Bearer " + services.operator_token_create(user=user, name="profile").secret}
agent = agent_create(display_name="profile me")
agent_token = {"Authorization": "Bearer " + services.token_issue(agent=agent).secret}
client = Client(HTTP_HOST="127.0.0.1")
body = json.dumps({"display_name": "profile replay"})
key = str(uuid.uuid4())
first = client.post("/api/agents/", body, content_type="application/json",
                    headers={**operator, "Idempotency-Key": key})
assert first.status_code == 201, first.content
slug = first.json()["name"]
counter = iter(range(10**9))

def replay():
    return client.post("/api/agents/", body, content_type="application/json",
                       headers={**operator, "Idempotency-Key": key})

def create():
    return client.post("/api/agents/", json.dumps({"display_name": f"profile create {next(counter)}"}),
                       content_type="application/json", headers=operator)

def create_keyed():
    return client.post("/api/agents/", json.dumps({"display_name": f"profile keyed {next(counter)}"}),
                       content_type="application/json",
                       headers={**operator, "Idempotency-Key": str(uuid.uuid4())})

def read():
    return client.get(f"/api/agents/{slug}/", headers=operator)

def me():
    return client.get("/api/agent/me/", headers=agent_token)

PHASES = {
    "authentication": [("rest_framework/views.py", "perform_authentication")],
    "permissions": [("rest_framework/views.py", "check_permissions")],
    "idempotency": [("idempotency/decorators.py", "wrapper")],
    "view": [("rest_framework/mixins.py", "create"), ("rest_framework/mixins.py", "retrieve"),
             ("tokens/views.py", "get")],
}

def cumulative(stats, file, name):
    return sum(v[3] for (f, _, n), v in stats.stats.items() if f.endswith(file) and n == name)

results = {}
for label, send in (("replay", replay), ("create", create), ("create with a fresh key", create_keyed),
                    ("read", read), ("agent token /api/agent/me/", me)):
    for _ in range(30):
        assert send().status_code in (200, 201)
    with CaptureQueriesContext(connection) as queries:
        reply = send()
    statements = [q["sql"][:100] for q in queries.captured_queries]  # before the next request resets them
    started = time.process_time()
    for _ in range(N):
        send()
    cpu_ms = (time.process_time() - started) * 1000 / N
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(N):
        send()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    phases = {phase: sum(cumulative(stats, f, n) for f, n in spots) for phase, spots in PHASES.items()}
    # The wrapper calls the view (a create) unless it replays: count that as the view's.
    phases["idempotency"] -= cumulative(stats, "rest_framework/mixins.py", "create")
    phases["rest"] = total - sum(phases.values())
    results[label] = {
        "cpu_ms": cpu_ms, "statements": len(statements),
        "replayed": reply.headers.get("Idempotent-Replayed"), "sql": statements,
        "shares": {phase: t / total for phase, t in phases.items()},
    }
print(json.dumps(results))
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=sorted(ENGINES), default="sqlite")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the site, e.g. IDEMPOTENCY_REDIS_FAST_PATH=0")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--sql", action="store_true", help="also list each request's statements")
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.setting)
    config = RunConfig()
    with tempfile.TemporaryDirectory(prefix="taos-profile-") as tmp, provision(
            ENGINES[args.engine], config=config, workdir=Path(tmp), run_id="profile",
            live_settings=False, env_overrides=overrides) as site:
        operator: Operator = site.operator
        env = {**site.env, "BENCH_PROFILE_REQUESTS": str(args.requests),
               "BENCH_PROFILE_USER": operator.username}
        done = subprocess.run([sys.executable, "-c", INNER], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
        return 1
    results = json.loads(done.stdout.strip().splitlines()[-1])
    settings = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "defaults"
    print(f"{args.engine} ({settings}); {args.requests} requests each, in-process, "
          f"operator token (agent token for /api/agent/me/); shares of the profiled time")
    print()
    phases = ["authentication", "permissions", "idempotency", "view", "rest"]
    print("| request | CPU ms/request | statements | " + " | ".join(phases) + " |")
    print("|---|---|---|" + "---|" * len(phases))
    for label, result in results.items():
        shares = " | ".join(f"{result['shares'][p] * 100:.0f} %" for p in phases)
        print(f"| {label} | {result['cpu_ms']:.2f} | {result['statements']} | {shares} |")
    if args.sql:
        for label, result in results.items():
            print(f"\n{label}:")
            for statement in result["sql"]:
                print(f"  {statement}")
    return 0


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    sys.exit(main())
