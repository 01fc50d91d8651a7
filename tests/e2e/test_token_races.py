"""Token issue, rotate and revoke through real gunicorn workers and masters.

Runs on whichever database the suite runs on: PostgreSQL (DATABASE_URL) or
the SQLite default, where the site's IMMEDIATE transactions must keep every
racer clear of "database is locked".
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence

import httpx
import pytest

from agents.models import Agent
from agents.services import agent_create
from harness.gunicorn import GunicornServer
from tokens import services
from tokens.models import AgentToken

pytestmark = [pytest.mark.live]

RACERS = 32
TOKEN_PERMS = ("tokens.view_agenttoken", "tokens.add_agenttoken", "tokens.change_agenttoken")
ACCESS_LINE = re.compile(r'"GET /api/agent/me/\?probe=(?P<probe>[\w-]+) HTTP/[\d.]+" '
                         r'(?P<status>\d{3}) .* pid=<?(?P<pid>\d+)')


@pytest.fixture
def agent() -> Agent:
    return agent_create(display_name="Research Bot")


@pytest.fixture
def operator_headers(make_user) -> dict[str, str]:
    """Operator-token auth for the racers: no password hashing on every request."""
    user = make_user("tokenadmin", perms=TOKEN_PERMS)
    secret = services.operator_token_create(user=user, name="races").secret
    # Every POST under /api/ declares JSON, also without a body.
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


async def _race(requests: Sequence[tuple[str, str, str]], headers: dict[str, str]
                ) -> list[httpx.Response]:
    """Send every (base_url, method, path) at once."""
    async with httpx.AsyncClient(timeout=60) as client:
        return await asyncio.gather(*(
            client.request(method, base + path, headers=headers)
            for base, method, path in requests
        ))


def race(requests: Sequence[tuple[str, str, str]], headers: dict[str, str]
         ) -> list[httpx.Response]:
    return asyncio.run(_race(requests, headers))


def assert_clean(responses: list[httpx.Response], *servers: GunicornServer) -> None:
    logs = "\n".join(server.log_tail(400) for server in servers)
    assert all(r.status_code < 500 for r in responses), logs
    assert "database is locked" not in logs
    assert "Traceback" not in logs, logs


def active_tokens(agent: Agent) -> list[AgentToken]:
    return list(AgentToken.objects.active().filter(agent=agent))


def me_status(server: GunicornServer, secret: str) -> tuple[int, str]:
    response = httpx.get(f"{server.url}/api/agent/me/",
                         headers={"Authorization": f"Bearer {secret}"})
    return response.status_code, response.json().get("code", "")


def test_concurrent_issues_give_one_201_and_409s(gunicorn_server, agent, operator_headers):
    path = f"/api/agents/{agent.name}/token/"
    responses = race([(gunicorn_server.url, "POST", path)] * RACERS, operator_headers)
    assert_clean(responses, gunicorn_server)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (RACERS - 1), gunicorn_server.log_tail()
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "token_already_active"}
    [winner] = [r.json()["token"] for r in responses if r.status_code == 201]
    assert [t.pk for t in active_tokens(agent)] == [
        next(r.json()["id"] for r in responses if r.status_code == 201)]
    assert me_status(gunicorn_server, winner) == (200, "")


def test_concurrent_rotations_all_succeed_and_leave_one_of_their_tokens(
        gunicorn_server, agent, operator_headers):
    first = services.token_issue(agent=agent)
    path = f"/api/agents/{agent.name}/token/rotate/"
    responses = race([(gunicorn_server.url, "POST", path)] * RACERS, operator_headers)
    assert_clean(responses, gunicorn_server)
    assert [r.status_code for r in responses] == [200] * RACERS, gunicorn_server.log_tail()
    secrets = [r.json()["token"] for r in responses]
    assert len(set(secrets)) == RACERS
    [survivor] = active_tokens(agent)
    assert AgentToken.objects.filter(agent=agent).count() == RACERS + 1
    winners = [s for s, r in zip(secrets, responses) if r.json()["id"] == survivor.pk]
    assert len(winners) == 1
    assert me_status(gunicorn_server, winners[0]) == (200, "")
    for secret in [first.secret, *(s for s in secrets if s != winners[0])]:
        assert me_status(gunicorn_server, secret) == (401, "token_revoked")


def test_issue_race_across_two_masters_leaves_one_active_token(gunicorn_factory, agent,
                                                               operator_headers):
    host_a, host_b = gunicorn_factory(workers=2), gunicorn_factory(workers=2)
    path = f"/api/agents/{agent.name}/token/"
    requests = [(host.url, "POST", path) for host in (host_a, host_b)] * (RACERS // 2)
    responses = race(requests, operator_headers)
    assert_clean(responses, host_a, host_b)
    assert sorted(r.status_code for r in responses) == [201] + [409] * (RACERS - 1)
    assert len(active_tokens(agent)) == 1


def test_rotation_race_across_two_masters_leaves_one_active_token(gunicorn_factory, agent,
                                                                  operator_headers):
    host_a, host_b = gunicorn_factory(workers=2), gunicorn_factory(workers=2)
    path = f"/api/agents/{agent.name}/token/rotate/"
    requests = [(host.url, "POST", path) for host in (host_a, host_b)] * (RACERS // 2)
    responses = race(requests, operator_headers)
    assert_clean(responses, host_a, host_b)
    assert [r.status_code for r in responses] == [200] * RACERS
    [survivor] = active_tokens(agent)
    assert survivor.pk in {r.json()["id"] for r in responses}


def _probe_round(server: GunicornServer, secret: str, label: str) -> dict[str, tuple[int, int]]:
    """Send RACERS concurrent GET /api/agent/me/; return {probe: (status, worker pid)}."""
    probes = [f"{label}-{uuid.uuid4().hex[:12]}" for _ in range(RACERS)]
    responses = race([(server.url, "GET", f"/api/agent/me/?probe={p}") for p in probes],
                     {"Authorization": f"Bearer {secret}"})
    by_probe = dict(zip(probes, responses))
    served = {}
    for match in ACCESS_LINE.finditer(server.log_path.read_text(errors="replace")):
        if match["probe"] in by_probe:
            response = by_probe[match["probe"]]
            assert response.status_code == int(match["status"])
            served[match["probe"]] = (response.status_code, int(match["pid"]))
    return served


def _until_every_worker_answered(server: GunicornServer, secret: str, label: str
                                 ) -> dict[str, tuple[int, int]]:
    workers = set(server.worker_pids())
    served: dict[str, tuple[int, int]] = {}
    for round_number in range(20):
        served |= _probe_round(server, secret, f"{label}{round_number}")
        if {pid for _, pid in served.values()} >= workers:
            return served
    pytest.fail(f"not every worker answered: {served}")


def test_revocation_holds_on_every_worker_at_once(gunicorn_server, agent, operator_headers):
    issued = services.token_issue(agent=agent)
    before = _until_every_worker_answered(gunicorn_server, issued.secret, "before")
    assert {status for status, _ in before.values()} == {200}

    revoke = httpx.delete(f"{gunicorn_server.url}/api/agents/{agent.name}/token/",
                          headers=operator_headers)
    assert revoke.status_code == 204

    after = _until_every_worker_answered(gunicorn_server, issued.secret, "after")
    assert {status for status, _ in after.values()} == {401}
    assert {pid for _, pid in after.values()} == set(gunicorn_server.worker_pids())
