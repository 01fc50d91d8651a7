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
import secrets
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

PARTIES = ("app", "postgres", "redis", "client")
# Of the peer column's sides (bench/scenarios/peer.py: SIDES); not its --peer-baseline ones.
SIDE_NAMES = ("control", "drf", "ours", "ours_db")


def _named(command: str) -> list[int]:
    """Return the PIDs of the processes whose command name is `command`."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == command:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def _servers_cpu() -> dict[str, float]:
    from harness.processes import cpu_seconds

    return {"postgres": sum(cpu_seconds(pid) for pid in _named("postgres")),
            "redis": sum(cpu_seconds(pid) for pid in _named("redis-server"))}


def main(argv: list[str] | None = None) -> int:
    from bench.dbtools import bench_database_name, drop_server_database, recreate_server_database
    from bench.engines import _delete_redis_keys, base_env, run_django
    from bench.scenarios.peer import LAB_APP, LAB_SETTINGS, SIDES, LabServer, theirs_installed
    from harness.gunicorn import GunicornServer

    parser = argparse.ArgumentParser(prog="python -m bench.tools.cost_split",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("postgres-redis", "sqlite"),
                        default="postgres-redis")
    parser.add_argument("--sides", default="control,drf,ours,ours_db",
                        help="comma-separated, of " + ", ".join(SIDE_NAMES))
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
    unknown = [side for side in sides if side not in SIDE_NAMES]
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
        labs: list[Any] = []
        try:
            run_django({**env, "PEER_LAB_SIDE": "ours"}, "-m", "django", "migrate", "-v0")
            for side in sides:
                lab_side, settings, _ = SIDES[side]
                server = GunicornServer(
                    env={**env, "PEER_LAB_SIDE": lab_side, **settings}, workers=args.workers,
                    app=LAB_APP, log_path=Path(tmp) / f"{side}.log")
                labs.append(LabServer(name=side, url=server.url, server=server))
                server.start()
            rows = asyncio.run(_measure(labs, args))
        finally:
            for lab in labs:
                lab.server.stop()
            if args.engine == "postgres-redis":
                drop_server_database("postgresql", args.pg_url)
                _delete_redis_keys(args.redis_url, prefix)
    _print(rows, args)
    return 0


async def _measure(labs: list[Any], args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Each side's loads, alternated over the rounds; medians per party and requests/s."""
    from bench.load import Load
    from bench.scenarios.peer import checked, fresh_creates, plain_creates

    loads = [(lab, keyed) for lab in labs
             for keyed in ((False, True) if lab.name == "control" else (True,))]
    warm = Load(concurrency=args.concurrency, requests=200)
    load = Load(concurrency=args.concurrency, requests=args.requests)
    for lab, keyed in loads:  # connections, imports, caches
        await (fresh_creates if keyed else plain_creates)(lab, warm)
    samples: dict[str, list[dict[str, float]]] = {}
    for n in range(args.rounds):
        for lab, keyed in (loads if n % 2 == 0 else loads[::-1]):
            label = f"{lab.name}, {'fresh key' if keyed else 'no key'}"
            app, servers = lab.server.cpu_seconds(), _servers_cpu()
            done = checked(lab, label, await (fresh_creates if keyed else plain_creates)(lab, load))
            after = _servers_cpu()
            sample = {party: (after[party] - servers[party]) / args.requests * 1e6
                      for party in ("postgres", "redis")}
            sample["app"] = (lab.server.cpu_seconds() - app) / args.requests * 1e6
            sample["client"] = done.client_cpu / args.requests * 1e6
            sample["rps"] = done.throughput
            samples.setdefault(label, []).append(sample)
    return {label: {measure: statistics.median(s[measure] for s in runs)
                    for measure in (*PARTIES, "rps")}
            for label, runs in samples.items()}


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
