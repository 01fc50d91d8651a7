"""Benchmark: agent-token vs session authentication, side by side, through gunicorn.

What is compared (each request answers 200 with the same agent as JSON,
serialised by the same AgentSerializer):

- `agent token`   GET /api/agent/me/            Authorization: Bearer taos_...
- `session`       GET /api/agents/<slug>/       sessionid cookie of an operator
- `operator token` GET /api/agents/<slug>/      Authorization: Bearer taosop_... (same operator)

The operator is a non-superuser with `agents.view_agent` (so its permission
check queries the database, as a real operator's does). The session variant
is the cheapest authenticated GET an operator can make by session that
returns the same body; `/api/agent/me/` itself refuses sessions.

Rounds alternate the variants in rotating order within one run against one
server (so drift on a shared machine hits all of them alike); the table shows
each variant's median throughput and latency, and its ratio to `session`.

    .venv/bin/python bench/tokens_auth.py                 # SQLite default, temp dir
    DATABASE_URL=postgres://... .venv/bin/python bench/tokens_auth.py

Writes the table to stdout and JSON to bench/out/tokens_auth.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "tokens_auth.json"
VARIANTS = ("agent token", "session", "operator token")
BASELINE = "session"
TARGET_RATIO = 1.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_environment(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TAOS_TEST_HOOKS", None)
    env["DJANGO_SETTINGS_MODULE"] = "tinyagentos_site.settings"
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
        env.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-0123456789")
        env.setdefault("TOKENS_PEPPER", "bench-only-tokens-pepper-0123456789")
    else:
        env.pop("DATABASE_URL", None)
        env["TAOS_VAR_DIR"] = tempfile.mkdtemp(prefix="taos-bench-")
    env["REDIS_URL"] = args.redis_url or ""
    return env


def setup_database(env: dict[str, str]) -> dict[str, str]:
    """Migrate, then create the agent, operator, session and tokens; return credentials."""
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env,
                   check=True)
    subprocess.run([python, "manage.py", "createcachetable"], cwd=ROOT, env=env, check=True)
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Permission, User
    from django.contrib.sessions.backends.db import SessionStore

    from agents.services import agent_create
    from tokens import services

    agent = agent_create(display_name=f"Bench Agent {time.time_ns()}")
    user = User.objects.create_user(f"bench-{time.time_ns()}", "", None)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="agents", codename="view_agent"))
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return {
        "slug": agent.name,
        "agent_token": services.token_issue(agent=agent).secret,
        "operator_token": services.operator_token_create(user=user, name="bench").secret,
        "session": session.session_key,
    }


def count_queries(creds: dict[str, str]) -> dict[str, int]:
    """Return the queries each variant's request runs, warm (last_used_at written)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for name in VARIANTS:
        path, headers = request_for(name, creds)
        client = Client(HTTP_HOST="127.0.0.1")
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        assert client.get(path, **extra).status_code == 200
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path, **extra).status_code == 200
        counts[name] = len(ctx.captured_queries)
    return counts


def request_for(name: str, creds: dict[str, str]) -> tuple[str, dict[str, str]]:
    if name == "agent token":
        return "/api/agent/me/", {"Authorization": f"Bearer {creds['agent_token']}"}
    if name == "operator token":
        return f"/api/agents/{creds['slug']}/", {
            "Authorization": f"Bearer {creds['operator_token']}"}
    return f"/api/agents/{creds['slug']}/", {"Cookie": f"sessionid={creds['session']}"}


class Server:
    def __init__(self, env: dict[str, str], workers: int, log: Path):
        self.port = free_port()
        self.env = {**env, "TAOS_BIND": f"127.0.0.1:{self.port}", "TAOS_WORKERS": str(workers),
                    "TAOS_MAX_REQUESTS": "0", "TAOS_GUNICORN_LOG_LEVEL": "warning",
                    "LOG_LEVEL": "WARNING"}
        self.log = open(log, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def run_round(port: int, path: str, headers: dict[str, str], requests: int,
              concurrency: int) -> tuple[float, list[float]]:
    """Send `requests` GETs from `concurrency` threads; return (req/s, latencies)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    remaining = iter(range(requests))

    def worker() -> None:
        local = []
        while True:
            with lock:
                if next(remaining, None) is None:
                    break
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            start = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            local.append(time.perf_counter() - start)
            conn.close()
            if response.status != 200:
                errors.append(f"{response.status} {path}")
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"non-200 answers: {errors[:3]}")
    return requests / elapsed, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--rounds", type=int, default=9, help="rounds per variant (default 9)")
    parser.add_argument("--requests", type=int, default=400, help="requests a round (default 400)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    args = parser.parse_args()

    env = prepare_environment(args)
    creds = setup_database(env)
    queries = count_queries(creds)
    from django.db import connection
    vendor = connection.vendor
    connection.close()

    OUT.parent.mkdir(parents=True, exist_ok=True)
    server = Server(env, args.workers, OUT.with_suffix(".gunicorn.log"))
    results: dict[str, dict[str, list[float]]] = {
        name: {"rps": [], "p50_ms": []} for name in VARIANTS}
    try:
        server.wait_ready()
        for name in VARIANTS:  # warm-up: imports, connections, last_used_at
            path, headers = request_for(name, creds)
            run_round(server.port, path, headers, 50, args.concurrency)
        for round_number in range(args.rounds):
            shift = round_number % len(VARIANTS)
            for name in VARIANTS[shift:] + VARIANTS[:shift]:
                path, headers = request_for(name, creds)
                rps, latencies = run_round(server.port, path, headers, args.requests,
                                           args.concurrency)
                results[name]["rps"].append(rps)
                results[name]["p50_ms"].append(statistics.median(latencies) * 1000)
    finally:
        server.stop()
        if "TAOS_VAR_DIR" in env and not args.database_url:
            shutil.rmtree(env["TAOS_VAR_DIR"], ignore_errors=True)

    base = statistics.median(results[BASELINE]["rps"])
    summary = {}
    print(f"tokens_auth: {vendor}, {args.workers} gunicorn workers, {args.concurrency} client "
          f"threads, {args.rounds} alternating rounds x {args.requests} requests; "
          f"{platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs")
    print()
    print("| variant | request | queries | median req/s | median p50 ms | vs session |")
    print("|---|---|---|---|---|---|")
    for name in VARIANTS:
        rps = statistics.median(results[name]["rps"])
        p50 = statistics.median(results[name]["p50_ms"])
        path, _ = request_for(name, {"slug": "<slug>", "agent_token": "", "operator_token": "",
                                     "session": ""})
        summary[name] = {"median_rps": rps, "median_p50_ms": p50, "queries": queries[name],
                         "ratio_to_session": rps / base, "rounds_rps": results[name]["rps"]}
        print(f"| {name} | GET {path} | {queries[name]} | {rps:.0f} | {p50:.1f} | "
              f"{rps / base:.2f}x |")
    ratio = summary["agent token"]["ratio_to_session"]
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print()
    print(f"target agent token >= {TARGET_RATIO}x session: {verdict} ({ratio:.2f}x)")
    OUT.write_text(json.dumps({"vendor": vendor, "args": vars(args), "results": summary},
                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
