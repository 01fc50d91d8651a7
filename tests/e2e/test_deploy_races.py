"""Same-key deploy requests racing through live gunicorn: one agent, one token, one run."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from agents.models import Agent
from deploys.models import DeployTask
from idempotency.models import IdempotencyRecord
from tests.support.deploy_command import DeployCommand
from tests.support.http_auth import basic_auth
from tests.support.task_workers import TaskWorker

pytestmark = [pytest.mark.live]

REQUESTS = 16
BODY = {"display_name": "Research Bot", "framework": "smolagents", "model": "qwen2.5:7b"}


async def _deploy_many(url: str, n: int, headers: dict[str, str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return await asyncio.gather(*(
            client.post("/api/agents/deploy/", json=BODY, headers=headers) for _ in range(n)
        ))


def _idempotency_rows() -> str:
    return "\n".join(
        str(row)
        for row in IdempotencyRecord.objects.values()
    )


def test_16_concurrent_same_key_deploys_make_one_agent_token_task_and_run(
    gunicorn_factory, make_user, tmp_path
):
    from tokens.models import AgentToken

    make_user("admin", superuser=True)
    recorder = DeployCommand(tmp_path / "deploys.jsonl")
    env = {"DEPLOY_BACKEND": "command", "DEPLOY_COMMAND": recorder.command()}
    server = gunicorn_factory(workers=4, **env)
    headers = {"Authorization": basic_auth("admin"), "Idempotency-Key": "deploy-research-bot-1"}

    responses = asyncio.run(_deploy_many(server.url, REQUESTS, headers))
    # Beyond the key's waiter slots a duplicate is refused at once (fair waiting).
    assert {r.status_code for r in responses} <= {202, 409}, server.log_tail()
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["code"] == "idempotency_key_in_use"
        assert int(refused.headers["Retry-After"]) >= 1
    accepted = [r for r in responses if r.status_code == 202]
    bodies = [r.json() for r in accepted]
    assert all(body == bodies[0] for body in bodies)
    replayed = [r.headers.get("Idempotent-Replayed") == "true" for r in accepted]
    assert replayed.count(False) == 1
    assert {r.headers["Location"] for r in accepted} == {
        "/api/agents/research-bot/deploy-status/"}

    worker = TaskWorker(env=env, args=("--batch",), log_path=tmp_path / "worker.log").start()
    try:
        assert worker.wait(timeout=120) == 0, worker.log()
    finally:
        worker.stop()
    later = asyncio.run(_deploy_many(server.url, 1, headers))[0]  # a retry after it all
    assert later.status_code == 202
    assert later.json() == bodies[0]

    agent = Agent.objects.get()
    assert agent.status == Agent.Status.RUNNING
    assert DeployTask.objects.get().state == "succeeded"
    assert AgentToken.objects.filter(agent=agent, revoked_at__isnull=True).count() == 1
    [start] = recorder.starts()  # the command backend ran exactly once
    secret = start["token"]
    assert secret
    seen = [
        *(r.text + json.dumps(dict(r.headers)) for r in [*responses, later]),
        server.log_tail(lines=10_000), worker.log(), _idempotency_rows(),
    ]
    assert not any(secret in text for text in seen)
