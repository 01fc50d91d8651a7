"""A retry storm on one key, through real gunicorn workers: nobody else waits for it.

docs/architecture.md, "Waiting is fair". Runs on the backend of the run (PostgreSQL,
MariaDB or the SQLite default); 4 workers, the project's gunicorn.conf.py;
and two masters, which count one key's slots together.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
import uuid

import httpx
import pytest
from django.db import connection

from agents.models import Agent
from harness.live_views import wait_for_pid
from tests.support.http_auth import basic_auth

pytestmark = [pytest.mark.live]

URL = "/api/agents/"
STORM = 32
HOLD_SECONDS = 3.0
READ_BOUND_SECONDS = 0.5


@pytest.fixture
def users(make_user) -> tuple[dict[str, str], dict[str, str]]:
    make_user("storm", superuser=True)
    make_user("reader", superuser=True)
    return {"Authorization": basic_auth("storm")}, {"Authorization": basic_auth("reader")}


def read_loop(url: str, auth: dict[str, str], seconds: float) -> list[float]:
    """Read the agent list one request at a time for `seconds`; return the latencies.

    A client of its own in a thread of its own, as another user's would be: the
    storm's client (an event loop busy with 32 replies) does not delay it.
    """
    latencies = []
    with httpx.Client(base_url=url, timeout=60, headers=auth) as client:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            started = time.monotonic()
            response = client.get(URL)
            assert response.status_code == 200
            latencies.append(time.monotonic() - started)
    return latencies


async def storm(client: httpx.AsyncClient, auth: dict[str, str], key: str,
                body: dict, n: int) -> list[httpx.Response]:
    hdrs = {**auth, "Idempotency-Key": key, "X-Test-Delay": str(HOLD_SECONDS)}
    return await asyncio.gather(*(client.post(URL, json=body, headers=hdrs) for _ in range(n)))


def assert_storm_answers(responses: list[httpx.Response], log: str) -> None:
    """One execution; every other answer its replay or 409 with Retry-After; no 5xx."""
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, log
    created = [r for r in responses if r.status_code == 201]
    assert len({r.content for r in created}) == 1
    assert [r.headers["Idempotent-Replayed"] for r in created].count("false") == 1
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["code"] == "idempotency_key_in_use"
        assert int(refused.headers["Retry-After"]) >= 1


def test_other_users_reads_keep_their_latency_during_a_same_key_storm(gunicorn_factory, users):
    server = gunicorn_factory(workers=4)
    storm_auth, reader_auth = users

    async def scenario() -> tuple[list[float], list[httpx.Response]]:
        limits = httpx.Limits(max_connections=STORM + 4)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
            posts = asyncio.create_task(storm(client, storm_auth, str(uuid.uuid4()),
                                              {"display_name": "Storm"}, STORM))
            await asyncio.sleep(0.01)
            during = await asyncio.to_thread(read_loop, server.url, reader_auth, HOLD_SECONDS)
            return during, await posts

    read_loop(server.url, reader_auth, 0.5)  # every worker thread warm, unrecorded
    before = read_loop(server.url, reader_auth, 1.0)
    during, responses = asyncio.run(scenario())
    summary = (f"reads before: p50 {statistics.median(before):.3f} max {max(before):.3f}; "
               f"during: p50 {statistics.median(during):.3f} max {max(during):.3f} "
               f"({len(during)} reads); storm: "
               f"{sorted((r.status_code for r in responses))}")
    print(summary)
    assert_storm_answers(responses, server.log_tail())
    assert Agent.objects.filter(display_name="Storm").count() == 1
    # Within 0.5 s, unless this (shared, loaded) machine was already slower than
    # that before the storm; blocked behind the storm a read would take ~3 s.
    bound = min(max(READ_BOUND_SECONDS, 2 * max(before)), HOLD_SECONDS / 2)
    assert max(during) <= bound, summary


def test_a_killed_holder_or_waiter_leaves_no_slot_taken(gunicorn_factory, users, tmp_path):
    """Kill the holder and a waiter mid-storm; the next storm on the key gets its full share."""
    server = gunicorn_factory(workers=4, IDEMPOTENCY_TEST_PID_DIR=str(tmp_path),
                              IDEMPOTENCY_WAITERS_PER_KEY="2")
    storm_auth, _ = users
    key, body = "killed-storm", {"display_name": "Killed storm"}

    async def scenario() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=STORM + 4)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
            hdrs = {**storm_auth, "Idempotency-Key": key, "X-Test-Delay": "30"}
            doomed = [asyncio.create_task(client.post(URL, json=body, headers=hdrs))
                      for _ in range(3)]  # the holder and its 2 waiters fill the slots
            pid = await asyncio.to_thread(wait_for_pid, tmp_path, key)
            await asyncio.sleep(0.5)  # the waiters are now waiting
            refused = await client.post(URL, json=body, headers=hdrs)
            assert refused.status_code == 409, server.log_tail()  # every slot is taken
            # Kill every worker: the holder's and (whichever they are) its waiters'.
            for worker in server.worker_pids():
                os.kill(worker, signal.SIGKILL)
            await asyncio.gather(*doomed, return_exceptions=True)
            await asyncio.to_thread(wait_workers, server, exclude=pid)
            return await storm(client, storm_auth, key, body, 8)

    responses = asyncio.run(scenario())
    assert_storm_answers(responses, server.log_tail())
    # The full share: the new holder ran it and both waiters replayed it.
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) >= 2, [r.status_code for r in responses]
    assert Agent.objects.filter(display_name="Killed storm").count() == 1



def test_a_keys_slots_are_counted_across_hosts(gunicorn_factory, users, tmp_path):
    """The holder and its one waiter on one master fill the key's slots for the other master too.

    Each master has a slot directory of its own, as two machines would: what
    counts the slots must be the database's. SQLite serves one host by design
    (its slots are files beside the database).
    """
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serves one host")
    hosts = [gunicorn_factory(workers=2, IDEMPOTENCY_TEST_PID_DIR=str(tmp_path),
                              IDEMPOTENCY_SLOT_DIR=str(tmp_path / f"host-{n}"),
                              IDEMPOTENCY_WAITERS_PER_KEY="1") for n in range(2)]
    storm_auth, _ = users
    key, body = f"hosts-{uuid.uuid4()}", {"display_name": "Across hosts"}
    hdrs = {**storm_auth, "Idempotency-Key": key, "X-Test-Delay": "4"}

    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response, float]:
        async with httpx.AsyncClient(timeout=60) as client:
            holder = asyncio.create_task(client.post(f"{hosts[0].url}{URL}", json=body,
                                                     headers=hdrs))
            await asyncio.to_thread(wait_for_pid, tmp_path, key)
            waiter = asyncio.create_task(client.post(f"{hosts[0].url}{URL}", json=body,
                                                     headers=hdrs))
            await asyncio.sleep(0.7)  # the waiter now holds the key's one waiter slot
            started = time.monotonic()
            other_host = await client.post(f"{hosts[1].url}{URL}", json=body, headers=hdrs)
            refused_in = time.monotonic() - started
            return await holder, await waiter, other_host, refused_in

    holder, waiter, other_host, refused_in = asyncio.run(scenario())
    log = "\n".join(host.log_tail() for host in hosts)
    assert other_host.status_code == 409, (other_host.status_code, log)
    assert other_host.json()["code"] == "idempotency_key_in_use"
    assert refused_in < 2.0, refused_in  # at once: it did not wait for the holder (4 s)
    assert (holder.status_code, holder.headers["Idempotent-Replayed"]) == (201, "false"), log
    assert (waiter.status_code, waiter.headers["Idempotent-Replayed"]) == (201, "true"), log
    assert Agent.objects.filter(display_name="Across hosts").count() == 1


def wait_workers(server, *, exclude: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = server.worker_pids()
        if len(pids) == server.workers and exclude not in pids:
            try:
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    raise AssertionError("gunicorn did not replace its killed workers")
