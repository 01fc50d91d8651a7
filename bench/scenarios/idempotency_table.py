"""The idempotency table at 1,000,000 rows: replay latency against 1,000 rows, and the purge.

Both read the table, so on an engine with Redis their replays go through
the database (IDEMPOTENCY_REDIS_FAST_PATH=0): a Redis replay never reads it.
The rows are bulk-loaded (bench/dbtools.py) and look like real ones: see
`record_columns`.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
from typing import Any

from bench.dbtools import BenchDatabase
from bench.load import Samples
from bench.registry import REGISTRY, MeasureRow, Target
from bench.running_site import DATABASE_REPLAYS, Site
from bench.scenarios.common import BACKGROUND_LOAD_MAX_SECONDS, median_row
from bench.scenarios.idempotency import complete_key
from bench.stats import Spread

TABLE = "idempotency_record"
SMALL_TABLE_ROWS = 1_000
# What cron would run: the command's default batch size.
PURGE_BATCH_SIZE = 1_000


# --- The table at 1,000,000 rows ---------------------------------------------------

_RESPONSE_BODY = (
    "'{\"id\":' || i || ',\"name\":\"bench-agent-' || i || '\",\"display_name\":"
    "\"Bench agent ' || i || '\",\"host\":\"\",\"qmd_index\":\"bench-agent-' || i || "
    "'\",\"color\":\"#888888\",\"emoji\":\"\",\"can_read_user_memory\":false,"
    "\"framework\":\"\",\"model\":\"\",\"status\":\"registered\","
    "\"created_at\":\"2026-11-27T10:00:00.000000Z\","
    "\"updated_at\":\"2026-11-27T10:00:00.000000Z\"}'"
)
_RESPONSE_HEADERS = (
    "'{\"Content-Type\": \"application/json\", "
    "\"Location\": \"/api/agents/bench-agent-' || i || '/\"}'"
)
# Spread over a day, as keys arrive; 86,000 s < the 24 h retention.
_AGE = "(i % 86000)"
# And over the microseconds of each second, as real requests arrive: no two
# rows share a timestamp (7919 is prime to 999,999: distinct for 999,999 rows
# in a row, and those 999,999 apart differ in their second).
_MICROSECOND = "((i * 7919) % 999999 + 1)"


def record_columns(database: BenchDatabase, *, expired: bool, salt: str) -> dict[str, str]:
    """Return SQL expressions of row number `i` for realistic completed idempotency rows.

    Each row is a completed `POST /api/agents/` (201, an agent's JSON of the
    real shape, Content-Type and Location) with a random key (a UUID on
    PostgreSQL and MariaDB, 32 random hex digits on SQLite, which has no md5) and a
    SHA-256-sized fingerprint, for one of ~5,000 principals (a quarter of
    them agents). Live rows expire within the next 24 h; expired rows
    expired up to a day ago, as a missed purge leaves them; every row has
    its own timestamp, to the microsecond. `salt` (letters and digits) makes
    the keys of one load differ from another's.
    """
    if not salt.isalnum():
        raise ValueError("salt: letters and digits only (it is put in SQL)")
    principal = "CASE WHEN i % 4 = 0 THEN 'agent:' ELSE 'user:' END || (i % 5003)"
    if database.vendor == "postgresql":
        base = "now() - interval '1 day'" if expired else "now() + interval '1 day'"
        return {
            "principal": principal,
            "key": f"md5('bench-key-{salt}-' || i)::uuid::text",
            "method": "'POST'",
            "path": "'/api/agents/'",
            "fingerprint": f"encode(sha256(('bench-fp-{salt}-' || i)::bytea), 'hex')",
            "response_status": "201",
            "response_body": f"convert_to({_RESPONSE_BODY}, 'UTF8')",
            "response_headers": f"({_RESPONSE_HEADERS})::jsonb",
            "created_at": f"{base} - interval '1 day' - {_AGE} * interval '1 second' "
                          f"- {_MICROSECOND} * interval '1 microsecond'",
            "expires_at": f"{base} - {_AGE} * interval '1 second' "
                          f"- {_MICROSECOND} * interval '1 microsecond'",
        }
    if database.vendor == "mysql":
        # Django stores MariaDB datetimes as naive UTC: UTC_TIMESTAMP, not
        # NOW() (the session's time zone). `||` concatenates in the loader's
        # session (bench/dbtools.py: PIPES_AS_CONCAT).
        base = f"UTC_TIMESTAMP(6) {'-' if expired else '+'} INTERVAL 1 DAY"
        offset = f"INTERVAL {_AGE} SECOND - INTERVAL {_MICROSECOND} MICROSECOND"
        digest = f"md5('bench-key-{salt}-' || i)"
        return {
            "principal": principal,
            # md5 as a UUID's 8-4-4-4-12 text, as PostgreSQL's md5()::uuid.
            "key": f"insert(insert(insert(insert({digest}, 21, 0, '-'), 17, 0, '-'), "
                   f"13, 0, '-'), 9, 0, '-')",
            "method": "'POST'",
            "path": "'/api/agents/'",
            "fingerprint": f"sha2('bench-fp-{salt}-' || i, 256)",
            "response_status": "201",
            "response_body": f"CAST({_RESPONSE_BODY} AS BINARY)",
            "response_headers": _RESPONSE_HEADERS,
            "created_at": f"{base} - INTERVAL 1 DAY - {offset}",
            "expires_at": f"{base} - {offset}",
        }
    shift = "'-1 day'" if expired else "'+1 day'"
    age = f"'-' || {_AGE} || ' seconds'"
    # Exactly as Django writes SQLite datetimes: 'YYYY-MM-DD HH:MM:SS.ffffff'
    # text in UTC. The format matters: they are compared as text, and Django
    # adapts a datetime parameter to six digits, so a row written with
    # strftime's three ('%f') would compare below a parameter of its own
    # value ('...12.345' < '...12.345000').
    micro = f"'.' || printf('%06d', {_MICROSECOND})"
    return {
        "principal": principal,
        "key": "lower(hex(randomblob(16)))",
        "method": "'POST'",
        "path": "'/api/agents/'",
        "fingerprint": "lower(hex(randomblob(32)))",
        "response_status": "201",
        "response_body": f"CAST({_RESPONSE_BODY} AS BLOB)",
        "response_headers": _RESPONSE_HEADERS,
        "created_at": f"strftime('%Y-%m-%d %H:%M:%S', 'now', {shift}, '-1 day', {age}) || {micro}",
        "expires_at": f"strftime('%Y-%m-%d %H:%M:%S', 'now', {shift}, {age}) || {micro}",
    }


def table_bytes(database: BenchDatabase) -> int:
    """Return the idempotency table's size with its indexes."""
    if database.vendor == "postgresql":
        return int(database.scalar(f"SELECT pg_total_relation_size('{TABLE}')"))
    if database.vendor == "mysql":
        # InnoDB's estimate, refreshed by the loader's ANALYZE TABLE.
        return int(database.scalar(
            "SELECT data_length + index_length FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = %s", (TABLE,)))
    return int(database.scalar(
        "SELECT sum(pgsize) FROM dbstat WHERE name IN "
        "(SELECT name FROM sqlite_schema WHERE tbl_name = %s)", (TABLE,)))


async def _load(site: Site, rows: int, *, expired: bool) -> Any:
    columns = record_columns(site.database, expired=expired, salt=secrets.token_hex(4))
    return await asyncio.to_thread(site.database.load_generated, TABLE, columns, rows=rows)


@REGISTRY.special("idem_table_big", title="idempotency table at {big_rows} rows vs "
                                          f"{SMALL_TABLE_ROWS:,}: replay through the database")
async def idem_table_big(site: Site) -> list[MeasureRow]:
    """Alternate replay rounds between a big idempotency table and a small one.

    Big: this site's table with `big_rows` live rows loaded (on top of the
    keys the comparisons left). Small: a sibling site (fresh database, own
    gunicorn, same settings) with 1,000 loaded rows. Both replay through the
    database. Each round replays one completed key on the small one, then on
    the big one; the ratio is big p50 / small p50, per round, and the
    purge measure that follows finds the big table in place.
    """
    big_rows = site.config.big_rows
    big = await site.database_replays()
    loaded = await _load(big, big_rows, expired=False)
    async with site.sibling(DATABASE_REPLAYS) as small:
        await _load(small, SMALL_TABLE_ROWS, expired=False)
        keys = [await complete_key(small, "bench small table"),
                await complete_key(big, "bench big table")]
        rows = [await asyncio.to_thread(small.database.count, TABLE),
                await asyncio.to_thread(big.database.count, TABLE)]
        sizes = [await asyncio.to_thread(table_bytes, small.database),
                 await asyncio.to_thread(table_bytes, big.database)]
        for completed in keys:
            await completed.replays(site.load(requests=site.config.warmup))
        rounds: list[tuple[Samples, Samples]] = []
        for _ in range(site.config.rounds):
            rounds.append((await keys[0].replays(site.load(requests=site.config.requests)),
                           await keys[1].replays(site.load(requests=site.config.requests))))
    wrong = sum(s.unexpected({201}) for pair in rounds for s in pair)
    if wrong:
        raise RuntimeError(f"{wrong} replays were not replays (wrong status or body)")
    ratios = [b.latency_ms(50) / a.latency_ms(50) for a, b in rounds]
    spread = Spread.of(ratios)
    small_p50 = [a.latency_ms(50) for a, _ in rounds]
    big_p50 = [b.latency_ms(50) for _, b in rounds]
    return [
        MeasureRow(
            f"replay p50 ratio ({rows[1]:,} rows / {rows[0]:,})", spread.median,
            target=Target("<=", 1.15),
            note=f"median of {spread.n} alternated rounds; IQR {spread.q1:.3f}–{spread.q3:.3f}, "
                 f"min–max {spread.min:.3f}–{spread.max:.3f}",
            detail={"ratios": ratios, "spread": spread.as_dict(), "rows": rows},
        ),
        median_row(f"replay p50 at {rows[0]:,} rows", small_p50, "ms", None,
                   note=f"table + indexes {sizes[0] / 1e6:.1f} MB; "
                        f"{statistics.median(a.throughput for a, _ in rounds):.0f} req/s"),
        median_row(f"replay p50 at {rows[1]:,} rows", big_p50, "ms", None,
                   note=f"table + indexes {sizes[1] / 1e6:.0f} MB; "
                        f"{statistics.median(b.throughput for _, b in rounds):.0f} req/s"),
        MeasureRow(f"bulk load: {big_rows:,} rows into {TABLE}", loaded.seconds, "s",
                   note=f"{loaded.method}, one transaction, then ANALYZE", detail=loaded.as_dict()),
    ]


# --- The purge of 1,000,000 expired rows -------------------------------------------

def _live_rows(database: BenchDatabase) -> int:
    now = database.pick(postgresql="now()", mysql="UTC_TIMESTAMP(6)",
                        sqlite="strftime('%Y-%m-%d %H:%M:%f', 'now')")
    return int(database.scalar(f"SELECT count(*) FROM {TABLE} WHERE expires_at > {now}"))


@REGISTRY.special("purge_big_under_replay",
                  title="purge {big_rows} expired idempotency rows under replay load")
async def purge_big_under_replay(site: Site) -> list[MeasureRow]:
    """Bulk-load expired rows, then purge them while replays read the table.

    `manage.py purge_idempotency_keys --batch-size 1000` (the default) runs
    in a subprocess with every statement timed (bench/statements.py); the
    replays go through the database (fast path off where there is Redis),
    so they read the table the purge deletes from.
    """
    rows = site.config.big_rows
    replays_site = await site.database_replays()
    completed = await complete_key(replays_site, "bench purge replay")
    loaded = await _load(site, rows, expired=True)
    live_before = await asyncio.to_thread(_live_rows, site.database)
    await completed.replays(site.load(requests=site.config.warmup))
    before = await completed.replays(site.load(requests=site.config.requests))
    stop = asyncio.Event()
    load_task = asyncio.create_task(completed.replays(
        site.load(duration=BACKGROUND_LOAD_MAX_SECONDS), stop=stop))
    try:
        timing = await site.run_command(
            ["purge_idempotency_keys", "--batch-size", str(PURGE_BATCH_SIZE)])
    finally:
        stop.set()
        replays = await load_task
    if timing.returncode != 0:
        raise RuntimeError(f"purge_idempotency_keys failed ({timing.returncode}): "
                           f"{timing.output_tail}")
    left = await asyncio.to_thread(site.database.count, TABLE)
    live_after = await asyncio.to_thread(_live_rows, site.database)
    during = replays.overlapping(timing.started_at, timing.finished_at)
    cross_check = (f"; pg_stat_activity saw {timing.sampled_longest:.3f} s"
                   if timing.sampled_longest is not None else "")
    kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(timing.kinds.items(),
                                                          key=lambda item: -item[1]))
    slowest = (f"slowest: #{timing.slowest[0]['index']:,} {timing.slowest[0]['sql'][:70]}"
               if timing.slowest else "")
    return [
        MeasureRow(f"bulk load: {rows:,} expired rows into {TABLE}", loaded.seconds, "s",
                   note=f"{loaded.method}, one transaction, then ANALYZE", detail=loaded.as_dict()),
        MeasureRow(
            "longest single statement", timing.longest_statement, "s", target=Target("<=", 0.5),
            note=f"--batch-size {PURGE_BATCH_SIZE}; statement hook over {timing.statements:,} "
                 f"statements ({kinds}; p50 {timing.p50_statement * 1000:.1f} ms, p99 "
                 f"{timing.p99_statement * 1000:.0f} ms), command {timing.seconds:.1f} s"
                 f"{cross_check}; {slowest}",
            detail=timing.as_dict(),
        ),
        MeasureRow("expired rows left after the purge", left - live_after, "",
                   target=Target("==", 0),
                   note=f"of {rows:,} loaded; live rows {live_before:,} before, "
                        f"{live_after:,} after"),
        MeasureRow(
            "replay p99 while the purge ran", during.latency_ms(99), "ms",
            note=f"{during.count:,} replays in flight during the purge, "
                 f"{during.unexpected({201})} not 201 ({replays.wrong} wrong answers in the "
                 f"whole load); p50 {during.latency_ms(50):.1f} ms "
                 f"(before the purge: p50 {before.latency_ms(50):.1f}, "
                 f"p99 {before.latency_ms(99):.1f} ms)",
            detail={"statuses": during.status_counts(), "p50_ms": during.latency_ms(50),
                    "before_p50_ms": before.latency_ms(50),
                    "before_p99_ms": before.latency_ms(99),
                    "all_replays": replays.count, "all_statuses": replays.status_counts()},
        ),
    ]
