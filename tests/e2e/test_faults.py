"""Faults under load: services stopped or restarted while clients keep calling.

Each fault test gets its own Redis or PostgreSQL server (tests/services.py),
bounded in requests and time, on loopback only.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from agents.models import Agent
from tests.conftest import basic_auth
from tests.services import PrivateRedis

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

    async def create_and_read(client: httpx.AsyncClient, i: int) -> httpx.Response:
        if i % 2:
            return await client.get("/api/agents/")
        return await client.post("/api/agents/", json={"display_name": f"Redis {i}"})

    async def scenario():
        load = asyncio.ensure_future(
            _stream(server.url, headers, 80, 0.05, create_and_read))
        await asyncio.sleep(1.5)
        private_redis.stop()
        stopped_at = time.monotonic()
        return await load, stopped_at

    results, _ = asyncio.run(scenario())
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    statuses = [r.status_code for r in results]
    assert all(s in (200, 201) for s in statuses), (statuses, server.log_tail())
    assert Agent.objects.count() == 40
    health = httpx.get(f"{server.url}/healthz").json()
    assert health == {"status": "ok", "database": "ok", "cache": "unavailable"}
