"""Where a fresh key's CPU goes: per lab side, CPU per request of each process taking part.

    python -m bench.tools.cost_split                       # PostgreSQL + Redis, every side
    python -m bench.tools.cost_split --engine sqlite
    python -m bench.tools.cost_split --sides control,ours --requests 3000 --rounds 3

Serves the peer lab (bench/peer_lab/, the view `make bench`'s peer column
measures) once per side under real gunicorn (`--workers` sync workers), on a
fresh database (PostgreSQL: the bench database of `--pg-url`, dropped and
recreated, so its name must contain "bench"; SQLite: a temporary file) and
the engine's Redis (keys under a prefix of their own, deleted at the end).
Then, `--rounds` times per side, `--requests` creates at `--concurrency`
(fresh keys, and on the control also no key), and for each load the CPU time
(user + system, from /proc) that each party used, divided by the requests:

- app: the gunicorn master and workers of the side;
- postgres: every `postgres` process on the machine (the backends serving
  the load; the server's own background work is in it too, and small);
- redis: every `redis-server` process;
- client: this process (aiohttp sending the load).

Medians over the rounds, one Markdown table. CPU time hardly moves when
other work competes for the cores (throughput does), so the columns add up
to what one request costs the machine, whoever pays it. The machine must be
otherwise quiet of PostgreSQL and Redis traffic: their CPU is counted whole.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

SIDE_ENV = {
    "control": {"PEER_LAB_SIDE": "control"},
    "drf": {"PEER_LAB_SIDE": "drf"},
    "ours": {"PEER_LAB_SIDE": "ours"},
    "ours_db": {"PEER_LAB_SIDE": "ours", "IDEMPOTENCY_REDIS_FAST_PATH": "0"},
}
PARTIES = ("app", "postgres", "redis", "client")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _named(command: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == command:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def _snapshot(server: object) -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "app": server.cpu_seconds(),  # type: ignore[attr-defined]
        "postgres": sum(_cpu_seconds(pid) for pid in _named("postgres")),
        "redis": sum(_cpu_seconds(pid) for pid in _named("redis-server")),
        "client": own.ru_utime + own.ru_stime,
    }


async def _load(url: str, *, keyed: bool, requests: int, concurrency: int) -> float:
    """Send `requests` creates; return the seconds they took. Every answer must be a 201."""
    import aiohttp

    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        queue.put_nowait(n)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            queue.get_nowait()
            headers = {"Idempotency-Key": str(uuid.uuid4())} if keyed else {}
            body = {"title": f"split {secrets.token_hex(4)}", "body": "a note"}
            async with session.post(f"{url}/notes/", json=body, headers=headers) as reply:
                await reply.read()
                if reply.status != 201:
                    raise RuntimeError(f"{url}/notes/ answered {reply.status}")

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return asyncio.get_running_loop().time() - started


def main(argv: list[str] | None = None) -> int:
    from bench.dbtools import bench_database_name, drop_server_database, recreate_server_database
    from bench.engines import base_env, run_django
    from bench.scenarios.peer import LAB_APP, LAB_SETTINGS, theirs_installed
    from harness.gunicorn import GunicornServer

    parser = argparse.ArgumentParser(prog="python -m bench.tools.cost_split",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("postgres-redis", "sqlite"),
                        default="postgres-redis")
    parser.add_argument("--sides", default="control,drf,ours,ours_db",
                        help="comma-separated, of " + ", ".join(SIDE_ENV))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--pg-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/taos_bench_split"))
    parser.add_argument("--redis-url", default=os.environ.get(
        "BENCH_REDIS_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")))
    args = parser.parse_args(argv)

    sides = [side for side in args.sides.split(",") if side]
    unknown = [side for side in sides if side not in SIDE_ENV]
    if unknown:
        parser.error(f"unknown side(s): {', '.join(unknown)}")
    if args.engine == "sqlite":
        sides = [side for side in sides if side in ("control", "ours")]
    elif "drf" in sides and not theirs_installed():
        print("drf-idempotency is not installed (requirements-bench.txt): its side is left out",
              file=sys.stderr)
        sides.remove("drf")

    prefix = f"taossplit-{secrets.token_hex(4)}"
    env = {**base_env(), "DJANGO_SETTINGS_MODULE": LAB_SETTINGS, "TAOS_PRELOAD_APP": "1",
           "PEER_LAB_KEY_PREFIX": prefix}
    with tempfile.TemporaryDirectory(prefix="taos-split-") as tmp:
        if args.engine == "postgres-redis":
            bench_database_name(args.pg_url)  # refuses a name without "bench"
            recreate_server_database("postgresql", args.pg_url)
            env.update({"PEER_LAB_DATABASE_URL": args.pg_url,
                        "PEER_LAB_REDIS_URL": args.redis_url})
        else:
            env["PEER_LAB_SQLITE_PATH"] = str(Path(tmp) / "lab.sqlite3")
        servers: dict[str, GunicornServer] = {}
        try:
            run_django({**env, "PEER_LAB_SIDE": "ours"}, "-m", "django", "migrate", "-v0")
            for side in sides:
                servers[side] = GunicornServer(
                    env={**env, **SIDE_ENV[side]}, workers=args.workers, app=LAB_APP,
                    log_path=Path(tmp) / f"{side}.log").start()
            rows = _measure(servers, args)
        finally:
            for server in servers.values():
                server.stop()
            if args.engine == "postgres-redis":
                drop_server_database("postgresql", args.pg_url)
                _delete_redis_keys(args.redis_url, prefix)
    _print(rows, args)
    return 0


def _measure(servers: dict[str, object], args: argparse.Namespace,
             ) -> dict[str, dict[str, float]]:
    loads = [(side, keyed) for side in servers
             for keyed in ((False, True) if side == "control" else (True,))]
    for side, keyed in loads:  # warm-up: connections, imports, caches
        asyncio.run(_load(servers[side].url, keyed=keyed, requests=200,  # type: ignore[attr-defined]
                          concurrency=args.concurrency))
    samples: dict[str, list[dict[str, float]]] = {}
    for n in range(args.rounds):
        for side, keyed in (loads if n % 2 == 0 else loads[::-1]):
            server = servers[side]
            before = _snapshot(server)
            seconds = asyncio.run(_load(server.url, keyed=keyed,  # type: ignore[attr-defined]
                                        requests=args.requests,
                                        concurrency=args.concurrency))
            after = _snapshot(server)
            sample = {party: (after[party] - before[party]) / args.requests * 1e6
                      for party in PARTIES}
            sample["rps"] = args.requests / seconds
            label = f"{side}, {'fresh key' if keyed else 'no key'}"
            samples.setdefault(label, []).append(sample)
    return {label: {measure: statistics.median(s[measure] for s in runs)
                    for measure in (*PARTIES, "rps")}
            for label, runs in samples.items()}


def _delete_redis_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


def _print(rows: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    control = rows.get("control, no key")
    print(f"{args.engine}: {args.workers} gunicorn workers, concurrency {args.concurrency}, "
          f"{args.requests} requests a load, median of {args.rounds} rounds; "
          "CPU microseconds per request")
    print()
    print("| side | app | postgres | redis | client | total | added to no key | requests/s |")
    print("|---|---|---|---|---|---|---|---|")
    for label, row in rows.items():
        total = sum(row[party] for party in PARTIES)
        added = (f"+{total - sum(control[p] for p in PARTIES):.0f}" if control
                 and label != "control, no key" else "")
        print(f"| {label} | {row['app']:.0f} | {row['postgres']:.0f} | {row['redis']:.0f} | "
              f"{row['client']:.0f} | {total:.0f} | {added} | {row['rps']:.0f} |")


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    sys.exit(main())
