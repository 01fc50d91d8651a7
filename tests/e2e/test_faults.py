"""Faults under load: services stopped or restarted while clients keep calling.

Each fault test gets its own Redis or PostgreSQL server (tests/support/private_servers.py),
bounded in requests and time, on loopback only.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from agents.models import Agent
from tests.support.http_auth import basic_auth
from tests.support.private_servers import PrivateRedis

pytestmark = [pytest.mark.live]


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path / "redis").start()
    yield server
    server.stop()


async def _stream(url: str, headers: dict, n: int, spacing: float,
                  make_request) -> list[httpx.Response | Exception]:
    """Send `n` requests, one every `spacing` seconds, up to 8 in flight."""
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        async def one(i: int):
            await asyncio.sleep(i * spacing)
            async with limit:
                try:
                    return await make_request(client, i)
                except httpx.HTTPError as exc:
                    return exc
        return await asyncio.gather(*(one(i) for i in range(n)))


def test_api_keeps_answering_when_redis_stops_mid_load(gunicorn_factory, make_user,
                                                        private_redis):
    make_user("admin", superuser=True)
    server = gunicorn_factory(workers=4, REDIS_URL=private_redis.url)
    headers = {"Authorization": basic_auth("admin")}
    # A key completed before the load: its replays come from Redis, then,
    # once Redis is gone, from the database.
    done = httpx.post(f"{server.url}/api/agents/", json={"display_name": "Done"},
                      headers={**headers, "Idempotency-Key": "redis-done"})
    assert done.status_code == 201

    async def mixed(client: httpx.AsyncClient, i: int) -> httpx.Response:
        if i % 3 == 0:
            return await client.post("/api/agents/", json={"display_name": f"Redis {i}"},
                                     headers={"Idempotency-Key": f"redis-{i}"})
        if i % 3 == 1:
            return await client.post("/api/agents/", json={"display_name": "Done"},
                                     headers={"Idempotency-Key": "redis-done"})
        return await client.get("/api/agents/")

    async def scenario():
        load = asyncio.ensure_future(_stream(server.url, headers, 90, 0.05, mixed))
        await asyncio.sleep(1.5)
        private_redis.stop()
        return await load

    results = asyncio.run(scenario())
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    statuses = [r.status_code for r in results]
    assert all(s in (200, 201) for s in statuses), (statuses, server.log_tail())
    replays = [r for i, r in enumerate(results) if i % 3 == 1]
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in replays)
    assert all(r.content == done.content for r in replays)
    assert Agent.objects.count() == 1 + 30
    health = httpx.get(f"{server.url}/healthz", headers=headers).json()
    assert health == {"status": "ok", "database": "ok", "cache": "unavailable"}
    assert "answering from the database" in server.log_tail(400)


@pytest.fixture
def private_postgres_site(tmp_path, gunicorn_factory):
    """A migrated database on a private PostgreSQL cluster, and a superuser in it."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL restart test runs in the PostgreSQL suite")
    import os
    import subprocess
    import sys

    from harness.processes import ROOT
    from tests.support.private_servers import PrivatePostgres

    cluster = PrivatePostgres().start()
    url = cluster.create_database("test_taos_fault")
    env = {**os.environ, "DATABASE_URL": url,
           "DJANGO_SETTINGS_MODULE": "harness.live_settings",
           "DJANGO_SUPERUSER_USERNAME": "admin", "DJANGO_SUPERUSER_PASSWORD": "fault-pw-1234"}
    for command in (["migrate", "--noinput"], ["createcachetable"], ["ensure_admin"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env,
                       check=True, capture_output=True, timeout=300)
    yield cluster, url
    cluster.stop()


def _agent_count(url: str) -> int:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        return conn.execute("SELECT count(*) FROM agents_agent").fetchone()[0]


def test_postgres_restart_during_idempotent_creates_loses_or_duplicates_nothing(
        gunicorn_factory, private_postgres_site):
    cluster, url = private_postgres_site
    server = gunicorn_factory(workers=4, DATABASE_URL=url, DB_CONN_MAX_AGE="60")
    headers = {"Authorization": basic_auth("admin", "fault-pw-1234")}
    n = 60

    async def create(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.post("/api/agents/", json={"display_name": f"Fault {i}"},
                                 headers={"Idempotency-Key": f"fault-{i}"})

    async def scenario():
        load = asyncio.ensure_future(_stream(server.url, headers, n, 0.05, create))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(cluster.restart)
        return await load

    results = asyncio.run(scenario())
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    by_status = {}
    for i, response in enumerate(results):
        by_status.setdefault(response.status_code, []).append(i)
        if response.status_code == 503:
            assert response.json()["code"] == "database_unavailable"
    assert set(by_status) <= {201, 503}, (by_status.keys(), server.log_tail())
    assert by_status.get(503), "the restart hit no request: the test proved nothing"

    # Every client retries every key after recovery: nothing is made twice.
    first = {i: r.json()["name"] for i, r in enumerate(results) if r.status_code == 201}
    retried = asyncio.run(_stream(server.url, headers, n, 0.0, create))
    assert [r.status_code for r in retried] == [201] * n, server.log_tail()
    for i, response in enumerate(retried):
        if i in first:
            assert response.headers["Idempotent-Replayed"] == "true"
            assert response.json()["name"] == first[i]
    assert _agent_count(url) == n
