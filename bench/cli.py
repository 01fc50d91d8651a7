"""Run the benchmark: `make bench` or `python -m bench [flags]`.

Starts the site under gunicorn on each engine (PostgreSQL + Redis, the
SQLite default, then MariaDB + Redis), each on a fresh database, drives the registered scenarios
with an async HTTP client, prints one Markdown table and writes
bench/results.json and bench/results.png. Exit status: 0 when every item
ran (missed targets included: they are results), 1 when any item failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # `python bench/cli.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import scenarios  # noqa: F401  (registers the scenarios)
from bench.auth import AUTH_METHODS
from bench.config import RunConfig
from bench.engines import ENGINES
from bench.measurements import EngineResult
from bench.registry import REGISTRY
from bench.rounds import run_engine
from bench.table import results_document, write_json


def parse_args(argv: list[str] | None) -> RunConfig:
    # --smoke shrinks the defaults; flags given explicitly still win.
    smoke = "--smoke" in (sys.argv[1:] if argv is None else argv)
    defaults = RunConfig().smoke_sized() if smoke else RunConfig()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=defaults.rounds,
                        help="rounds per scenario; comparisons alternate A B for this many "
                             "rounds and need >= 8 for a verdict (default %(default)s)")
    parser.add_argument("--requests", type=int, default=defaults.requests,
                        help="requests per scenario per round (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency,
                        help="requests in flight (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=defaults.warmup,
                        help="unrecorded requests per scenario first (default %(default)s)")
    parser.add_argument("--workers", type=int, default=defaults.workers,
                        help="gunicorn workers (default %(default)s)")
    parser.add_argument("--big-rows", type=int, default=defaults.big_rows,
                        help="rows of the bulk-loaded tables of big-table measures "
                             "(default %(default)s)")
    parser.add_argument("--engines", default=",".join(defaults.engines),
                        help=f"comma-separated, from {', '.join(ENGINES)} (default %(default)s)")
    parser.add_argument("--only", action="append", default=[], metavar="ITEM",
                        help="run only this scenario, comparison or special (repeatable); "
                             f"known: {', '.join(REGISTRY.names())}")
    parser.add_argument("--all", dest="everything", action="store_true",
                        help="also run the reference items that the default run leaves out: "
                             + ", ".join(n for n in REGISTRY.names()
                                         if not REGISTRY.item(n).default))
    parser.add_argument("--auth", default=defaults.auth, choices=sorted(AUTH_METHODS),
                        help="how the load authenticates (default %(default)s)")
    parser.add_argument("--live-settings", action="store_true",
                        help="run the main gunicorn servers with the test-only settings too (items "
                             "that need the delay header start a variant server with it anyway)")
    parser.add_argument("--pg-url", default=defaults.pg_url,
                        help="the PostgreSQL bench database, dropped and recreated; its name "
                             "must contain 'bench' (default $BENCH_DATABASE_URL or %(default)s)")
    parser.add_argument("--mysql-url", default=defaults.mysql_url,
                        help="the MariaDB bench database of the mariadb-redis engine, dropped and "
                             "recreated (CHARACTER SET utf8mb4); its name must contain 'bench' "
                             "(default $BENCH_MYSQL_URL or %(default)s)")
    parser.add_argument("--redis-url", default=defaults.redis_url,
                        help="Redis for the engines with Redis; the run's keys get their "
                             "own prefix and are deleted at the end "
                             "(default $BENCH_REDIS_URL, else $REDIS_URL, else db 0)")
    parser.add_argument("--out", type=Path, default=defaults.out_dir,
                        help="where results.json and results.png go (default bench/)")
    parser.add_argument("--no-plot", dest="plot", action="store_false",
                        help="skip the PNG (matplotlib not needed then)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the bench databases, gunicorn logs and work directory")
    parser.add_argument("--peer-baseline", type=Path, default=None, metavar="SRC",
                        help="the src directory of another version of the idempotency package "
                             "(e.g. `git archive main packages/idempotency/src | tar -x -C DIR`, "
                             "then DIR/packages/idempotency/src): the peer column also runs it, "
                             "alternated with ours, to measure a change")
    parser.add_argument("--smoke", action="store_true",
                        help="a quick check that everything runs: 2 rounds of 20 requests, "
                             "2 gunicorn workers, 2,000 big rows (no verdicts: too few rounds)")
    args = parser.parse_args(argv)
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        parser.error(f"unknown engine(s) {unknown}; known: {', '.join(ENGINES)}")
    try:
        REGISTRY.select(args.only, everything=args.everything)
    except ValueError as exc:
        parser.error(str(exc))
    config = RunConfig(
        rounds=args.rounds, requests=args.requests, concurrency=args.concurrency,
        warmup=args.warmup, workers=args.workers, big_rows=args.big_rows, engines=engines,
        only=tuple(args.only), everything=args.everything, auth=args.auth,
        live_settings=args.live_settings, pg_url=args.pg_url, mysql_url=args.mysql_url,
        redis_url=args.redis_url, out_dir=args.out, plot=args.plot, keep=args.keep,
        smoke=args.smoke, peer_baseline=args.peer_baseline,
    )
    if config.peer_baseline and not (config.peer_baseline / "idempotency").is_dir():
        parser.error(f"--peer-baseline {config.peer_baseline}: no idempotency package there")
    if config.rounds < 1 or config.requests < 1:
        parser.error("--rounds and --requests must be >= 1")
    return config


async def run_all(config: RunConfig, workdir: Path, run_id: str) -> list[EngineResult]:
    plan = REGISTRY.select(config.only, everything=config.everything)
    results = []
    for name in config.engines:
        results.append(await run_engine(ENGINES[name], plan, config=config, run_id=run_id,
                                        workdir=workdir / name))
    return results


async def _main_task(config: RunConfig, workdir: Path, run_id: str) -> list[EngineResult]:
    # SIGTERM cancels the run, so every `finally` (stop gunicorn, drop the
    # database) runs, as Ctrl-C does under asyncio.run.
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await run_all(config, workdir, run_id)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    run_id = secrets.token_hex(3)
    workdir = Path(tempfile.mkdtemp(prefix=f"taos-bench-{run_id}-"))
    config = replace(config, static_root=workdir / "static")
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    try:
        engines = asyncio.run(_main_task(config, workdir, run_id))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted; servers stopped", file=sys.stderr)
        return 130
    finally:
        if config.keep:
            print(f"bench: kept the work directory {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    document = results_document(engines, meta={
        "run_id": run_id,
        "started_at": started_at.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 1),
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "load_generator": "aiohttp.ClientSession, bounded concurrency (bench/load.py)",
        "config": config.as_dict(),
    })
    json_path = config.out_dir / "results.json"
    write_json(document, json_path)
    print()
    print(document["setup_markdown"])
    print()
    print(document["table_markdown"])
    print()
    if document["peer_markdown"]:
        print(document["peer_markdown"])
        print()
    print(f"bench: wrote {json_path}", end="")
    if config.plot:
        from bench.plot import write_plot

        png_path = config.out_dir / "results.png"
        if write_plot(engines, png_path):
            print(f" and {png_path}", end="")
        else:
            print(" (no scenario ran: no plot)", end="")
    print(f" in {document['seconds']:.0f} s")
    for error in document["errors"]:
        print(f"bench: ERROR {error}", file=sys.stderr)
    return 1 if document["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
