"""The plain create and read that the idempotency and token comparisons are measured against.

Also reference items the default run leaves out (`--all` or `--only` runs
them): the list, create vs read, the HTTP stack's ceiling (a 401) and
Django's own unbatched `clearsessions` over 1,000,000 rows.
"""

from __future__ import annotations

import asyncio

from bench.auth import Credentials
from bench.load import Load, Samples, drive
from bench.registry import REGISTRY, MeasureRow, Target
from bench.running_site import Site
from bench.scenarios.common import AGENTS, BACKGROUND_LOAD_MAX_SECONDS, create_agent

LIST_SEED_AGENTS = 100


async def _one_agent(site: Site) -> str:
    return await create_agent(site, "bench read")


async def _many_agents(site: Site) -> int:
    async with site.client() as client:
        samples = await drive(
            lambda i: client.post(AGENTS, json={"display_name": site.unique_name("bench list")}),
            load=site.load(requests=LIST_SEED_AGENTS),
        )
    if samples.unexpected({201}):
        raise RuntimeError(f"seeding agents for list: statuses {samples.status_counts()}")
    return LIST_SEED_AGENTS


# --- Scenarios -----------------------------------------------------------------

@REGISTRY.scenario("read", title="read: GET /api/agents/{slug}/ (the load's auth)", expect={200},
                   setup=_one_agent)
async def read_agent(site: Site, slug: str, load: Load) -> Samples:
    async with site.client() as client:
        return await drive(lambda i: client.get(f"{AGENTS}{slug}/"), load=load)


@REGISTRY.scenario("create", title=f"create: POST {AGENTS} without a key", expect={201})
async def create_agent_without_key(site: Site, state: None, load: Load) -> Samples:
    async with site.client() as client:
        return await drive(
            lambda i: client.post(AGENTS, json={"display_name": site.unique_name("bench create")}),
            load=load,
        )


@REGISTRY.scenario("list", title=f"list: GET {AGENTS} (first page of 50, ~{LIST_SEED_AGENTS} agents)",
                   expect={200}, setup=_many_agents, default=False)
async def list_agents(site: Site, state: int, load: Load) -> Samples:
    async with site.client() as client:
        return await drive(lambda i: client.get(AGENTS), load=load)


@REGISTRY.scenario("ceiling", title=f"ceiling: POST {AGENTS} unauthenticated, answered 401",
                   expect={401})
async def unauthenticated(site: Site, state: None, load: Load) -> Samples:
    """The HTTP stack alone (gunicorn, middleware, DRF's 401): no database work."""
    async with site.client(Credentials(method="none")) as client:
        return await drive(lambda i: client.post(AGENTS, json={"display_name": "nobody"}),
                           load=load)


# --- Comparisons -----------------------------------------------------------------

REGISTRY.compare(
    "create_vs_read", title="create vs read", a="create", b="read", metric="throughput",
    note="a reference; no target", default=False,
)


# --- Special measures ------------------------------------------------------------

def _expired_session_columns(site: Site) -> dict[str, str]:
    # 12 + 28 characters: django_session.session_key is 40 long.
    return site.database.pick(
        postgresql={
            "session_key": "'benchexpired' || lpad(i::text, 28, '0')",
            "session_data": "'e30:bench'",
            "expire_date": "now() - interval '1 day'",
        },
        mysql={  # `||` concatenates in the loader's session (PIPES_AS_CONCAT)
            "session_key": "'benchexpired' || lpad(i, 28, '0')",
            "session_data": "'e30:bench'",
            "expire_date": "UTC_TIMESTAMP(6) - INTERVAL 1 DAY",
        },
        sqlite={
            "session_key": "'benchexpired' || substr('0000000000000000000000000000' || i, -28, 28)",
            "session_data": "'e30:bench'",
            # Django stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.fff...' text.
            "expire_date": "strftime('%Y-%m-%d %H:%M:%f', 'now', '-1 day')",
        },
    )


@REGISTRY.special(
    "clearsessions_big",
    title="Django clearsessions of {big_rows} expired sessions under read load (reference)",
    default=False,
)
async def clearsessions_big(site: Site) -> list[MeasureRow]:
    """Bulk-load expired sessions, purge them with Django's own command under read load.

    A reference for the idempotency purge: Django's `clearsessions` deletes
    every expired row in one statement (unbatched), so its longest statement
    grows with the table; the batched idempotency purge is to keep its
    longest statement <= 0.5 s. This also proves the two reusable parts: the
    bulk loader and the longest-statement measurement.
    """
    rows = site.config.big_rows
    loaded = await asyncio.to_thread(
        site.database.load_generated, "django_session", _expired_session_columns(site), rows=rows,
    )
    slug = await create_agent(site, "bench purge read")
    stop = asyncio.Event()
    async with site.client() as client:
        load_task = asyncio.create_task(drive(
            lambda i: client.get(f"{AGENTS}{slug}/"),
            load=site.load(duration=BACKGROUND_LOAD_MAX_SECONDS), stop=stop,
        ))
        try:
            timing = await site.run_command(["clearsessions"])
        finally:
            stop.set()
            reads = await load_task
    if timing.returncode != 0:
        raise RuntimeError(f"clearsessions failed ({timing.returncode}): {timing.output_tail}")
    left = await asyncio.to_thread(
        site.database.scalar,
        "SELECT count(*) FROM django_session WHERE session_key LIKE %s", ("benchexpired%",),
    )
    during = reads.overlapping(timing.started_at, timing.finished_at)
    cross_check = (
        f"; pg_stat_activity saw {timing.sampled_longest:.3f} s"
        if timing.sampled_longest is not None else ""
    )
    return [
        MeasureRow(
            f"bulk load: {rows:,} rows into django_session", loaded.seconds, "s",
            note=f"{loaded.method}, one transaction, then ANALYZE", detail=loaded.as_dict(),
        ),
        MeasureRow(
            "longest single statement", timing.longest_statement, "s",
            note=f"statement hook; {timing.statements} statement(s), command "
                 f"{timing.seconds:.2f} s{cross_check}",
            detail=timing.as_dict(),
        ),
        MeasureRow(
            "expired rows left after the command", left, "", target=Target("==", 0),
            note=f"of {rows:,} loaded",
        ),
        MeasureRow(
            "read p99 while the command ran", during.latency_ms(99), "ms",
            note=f"{during.count} reads in flight during the command, "
                 f"{during.unexpected({200})} not 200; p50 {during.latency_ms(50):.1f} ms",
            detail={"statuses": during.status_counts(), "p50_ms": during.latency_ms(50),
                    "all_reads": reads.count, "all_reads_statuses": reads.status_counts()},
        ),
    ]
