"""The acceptance races at full width: two gunicorn masters of 4 workers each.

On every engine; with TAOS_TEST_DB_POOLER=pgbouncer (a CI step) the eight
workers share a private PgBouncer in transaction pooling mode with a pool
of 4 server connections, so requests queue for a server connection while
others wait on a reservation, and the results must not change.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from django.db import connection

from agents.models import Agent
from agents.services import agent_create
from harness.gunicorn import GunicornServer
from tests.support.http_auth import basic_auth
from tokens import services
from tokens.models import AgentToken

pytestmark = [pytest.mark.live]

RACERS = 32
WORKERS = 4
# Fair waiting admits a key's holder and IDEMPOTENCY_WAITERS_PER_KEY waiters at
# once (the rest answer 409 at once). With a waiter slot for every other worker
# of both masters no duplicate is turned away, so every answer is the replay.
WAITERS = str(2 * WORKERS - 1)


@pytest.fixture
def masters(gunicorn_factory) -> tuple[GunicornServer, GunicornServer]:
    return (gunicorn_factory(workers=WORKERS, IDEMPOTENCY_WAITERS_PER_KEY=WAITERS),
            gunicorn_factory(workers=WORKERS, IDEMPOTENCY_WAITERS_PER_KEY=WAITERS))


async def _send_all(requests: list[tuple[str, str, dict]], headers: dict[str, str]
                    ) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=90) as client:
        return await asyncio.gather(*(client.post(url, json=body, headers=headers)
                                      for url, _, body in requests))


def send_all(masters: tuple[GunicornServer, ...], path: str, body: dict,
             headers: dict[str, str]) -> list[httpx.Response]:
    requests = [(f"{m.url}{path}", "POST", body) for m in masters] * (RACERS // len(masters))
    return asyncio.run(_send_all(requests, headers))


def logs(masters: tuple[GunicornServer, ...]) -> str:
    return "\n".join(m.log_tail(300) for m in masters)


def assert_pool_held(live_pgbouncer) -> None:
    if live_pgbouncer is not None:  # the workers went through it; the pool was never exceeded
        name = connection.settings_dict["NAME"]
        [stats] = [row for row in live_pgbouncer.show("STATS") if row["database"] == name]
        assert int(stats["total_xact_count"]) >= RACERS, stats
        servers = live_pgbouncer.show("SERVERS")
        assert 0 < len(servers) <= live_pgbouncer.pool_size, servers


def test_32_same_key_creates_over_two_masters_make_one_agent(masters, make_user,
                                                             live_pgbouncer):
    make_user("admin", superuser=True)
    # The delay keeps the first request in its view while the others pile up.
    headers = {"Authorization": basic_auth("admin"), "Idempotency-Key": str(uuid.uuid4()),
               "X-Test-Delay": "0.3"}
    responses = send_all(masters, "/api/agents/", {"display_name": "Research Bot"}, headers)
    assert [r.status_code for r in responses] == [201] * RACERS, logs(masters)
    assert len({r.content for r in responses}) == 1
    replayed = sorted(r.headers["Idempotent-Replayed"] for r in responses)
    assert replayed == ["false"] + ["true"] * (RACERS - 1)
    assert Agent.objects.count() == 1
    assert "Traceback" not in logs(masters)
    assert_pool_held(live_pgbouncer)


def test_32_token_issues_over_two_masters_give_one_201(masters, make_user, live_pgbouncer):
    agent = agent_create(display_name="Research Bot")
    user = make_user("tokenadmin", superuser=True)
    secret = services.operator_token_create(user=user, name="races").secret
    responses = send_all(masters, f"/api/agents/{agent.name}/token/", {},
                         {"Authorization": f"Bearer {secret}"})
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (RACERS - 1), logs(masters)
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "token_already_active"}
    assert AgentToken.objects.active().filter(agent=agent).count() == 1
    assert "Traceback" not in logs(masters)
    assert_pool_held(live_pgbouncer)
