"""Races through real gunicorn workers against the test database."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from agents.models import Agent
from tests.support.http_auth import basic_auth

pytestmark = [pytest.mark.live]


async def _post_many(url: str, n: int, body: dict, headers: dict) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return await asyncio.gather(*(
            client.post("/api/agents/", json=body, headers=headers) for _ in range(n)
        ))


def test_concurrent_creates_of_one_display_name_get_distinct_slugs(gunicorn_server, make_user):
    make_user("admin", superuser=True)
    responses = asyncio.run(_post_many(
        gunicorn_server.url, 8, {"display_name": "Research Bot"},
        {"Authorization": basic_auth("admin")},
    ))
    statuses = [r.status_code for r in responses]
    assert statuses == [201] * 8, gunicorn_server.log_tail()
    names = sorted(r.json()["name"] for r in responses)
    expected = sorted(["research-bot"] + [f"research-bot-{n}" for n in range(2, 9)])
    assert names == expected
    assert sorted(Agent.objects.values_list("name", flat=True)) == expected
