"""The `taos` client through a proxy that loses 30 % of the answers: nothing happens twice.

Between the client and 4 live gunicorn workers, `LossyProxy` forwards every
request and, for a seeded 30 % of them, closes the client's connection after
the server answered: the server committed, the client never heard. The
client retries under the same Idempotency-Key with the same body, and:

- 300 creates with distinct names make exactly 300 agents, none suffixed;
- 50 deploys make 50 agents and 50 tasks, and the deploy command runs 50 times;
- rotations leave one active token per agent, the client holds it, and the
  client reports each lost rotation; a lost token issue is reported as such.

Runs on the suite's database (PostgreSQL with DATABASE_URL, else SQLite).
Each test prints its counts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import httpx
import pytest
from taos_client import Client, RetryPolicy, TokenAnswerLost

from agents.models import Agent
from agents.services import agent_create
from deploys.models import DeployTask
from harness.gunicorn import GunicornServer
from tests.support.deploy_command import DeployCommand
from tests.support.lossy_proxy import LossyProxy
from tests.support.task_workers import TaskWorker
from tokens import services as token_services
from tokens.models import AgentToken

pytestmark = [pytest.mark.live]

LOSS = 0.3
SEED = 23
CREATES = 300
DEPLOYS = 50
ROTATED_AGENTS = 20
ROTATIONS_EACH = 3
ISSUED_AGENTS = 20
THREADS = 8


@pytest.fixture
def operator_token(make_user) -> str:
    user = make_user("lossadmin", superuser=True)
    return token_services.operator_token_create(user=user, name="lossy").secret


class Lossy(NamedTuple):
    proxy: LossyProxy
    server: GunicornServer


@pytest.fixture
def lossy(gunicorn_factory) -> Iterator[Callable[..., Lossy]]:
    """Start 4 gunicorn workers (with `env`) behind a proxy that loses 30 % of the answers."""
    proxies: list[LossyProxy] = []

    def start(**env: str) -> Lossy:
        server = gunicorn_factory(workers=4, **env)
        proxy = LossyProxy(server.port, loss=LOSS, seed=SEED).start()
        proxies.append(proxy)
        return Lossy(proxy, server)

    yield start
    for proxy in proxies:
        proxy.stop()


def client_factory(url: str, token: str) -> Callable[[], Client]:
    seeds = iter(range(10_000))

    def make() -> Client:
        # Short waits: the proxy loses answers, it is not overloaded. 20 attempts
        # all lost at 30 % has odds of 3e-11.
        policy = RetryPolicy(max_attempts=20, max_elapsed=120, base=0.02, cap=0.2,
                             rng=random.Random(next(seeds)))
        return Client(url, token, retry=policy)
    return make


def run_all(calls: list[Callable[[], object]]) -> list[object]:
    def run(call: Callable[[], object]) -> object:
        try:
            return call()
        except TokenAnswerLost as error:
            return error
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, calls))


def report(capsys, title: str, **counts: object) -> None:
    with capsys.disabled():
        print(f"\n[lost answers, {title}] " + ", ".join(f"{k}={v}" for k, v in counts.items()))


def test_300_creates_with_30_percent_lost_answers_make_exactly_300_agents(
        lossy, operator_token, capsys):
    proxy, _ = lossy()
    make = client_factory(proxy.url, operator_token)
    names = [f"Lossy Agent {n:03d}" for n in range(CREATES)]
    started = time.monotonic()

    def create(name: str) -> Callable[[], object]:
        def call() -> object:
            with make() as client:
                return client.agent_create(display_name=name)
        return call

    agents = run_all([create(name) for name in names])

    slugs = {f"lossy-agent-{n:03d}" for n in range(CREATES)}
    assert {agent.name for agent in agents} == slugs
    assert set(Agent.objects.values_list("name", flat=True)) == slugs
    assert Agent.objects.count() == CREATES
    suffixed = Agent.objects.filter(name__regex=r"-[0-9]{3}-[0-9]+$").count()
    assert suffixed == 0
    lost = sum(agent.meta.lost_answers for agent in agents)
    replayed = sum(agent.meta.replayed for agent in agents)
    # Every lost answer was the server's committed 201: the retry got it replayed.
    assert all(agent.meta.replayed == (agent.meta.lost_answers > 0) for agent in agents)
    assert lost == proxy.counts.dropped > 0
    assert proxy.counts.failed == 0
    report(capsys, "creates",
           engine=_engine(), creates=CREATES, requests=proxy.counts.forwarded,
           answers_lost=proxy.counts.dropped, creates_replayed=replayed,
           agents=Agent.objects.count(), suffixed=suffixed, seconds=round(time.monotonic() - started, 1))


def test_50_deploys_with_lost_answers_make_50_tasks_that_run_50_times(
        lossy, operator_token, capsys, tmp_path):
    recorder = DeployCommand(tmp_path / "deploys.jsonl")
    env = {"DEPLOY_BACKEND": "command", "DEPLOY_COMMAND": recorder.command()}
    proxy, _ = lossy(**env)
    make = client_factory(proxy.url, operator_token)

    def deploy(n: int) -> Callable[[], object]:
        def call() -> object:
            with make() as client:
                return client.deploy_new(display_name=f"Lossy Deploy {n:02d}",
                                         framework="smolagents", model="qwen2.5:7b")
        return call

    deployed = run_all([deploy(n) for n in range(DEPLOYS)])
    worker = TaskWorker(env=env, args=("--batch",), log_path=tmp_path / "worker.log").start()
    try:
        assert worker.wait(timeout=300) == 0, worker.log()
    finally:
        worker.stop()

    slugs = {f"lossy-deploy-{n:02d}" for n in range(DEPLOYS)}
    assert {d.agent.name for d in deployed} == slugs
    assert set(Agent.objects.values_list("name", flat=True)) == slugs
    assert DeployTask.objects.count() == DEPLOYS
    assert set(DeployTask.objects.values_list("state", flat=True)) == {"succeeded"}
    starts = recorder.starts()
    assert len(starts) == DEPLOYS
    assert {s["slug"] for s in starts} == slugs
    assert all(d.meta.replayed == (d.meta.lost_answers > 0) for d in deployed)
    assert sum(d.meta.lost_answers for d in deployed) == proxy.counts.dropped > 0
    report(capsys, "deploys", engine=_engine(), deploys=DEPLOYS,
           requests=proxy.counts.forwarded, answers_lost=proxy.counts.dropped,
           deploys_replayed=sum(d.meta.replayed for d in deployed),
           agents=Agent.objects.count(), tasks=DeployTask.objects.count(), runs=len(starts))


def test_rotations_with_lost_answers_leave_one_active_token_the_client_holds(
        lossy, operator_token, capsys):
    proxy, server = lossy()
    make = client_factory(proxy.url, operator_token)
    agents = [agent_create(display_name=f"Rotated {n:02d}") for n in range(ROTATED_AGENTS)]
    for agent in agents:
        token_services.token_issue(agent=agent)

    def rotate_thrice(slug: str) -> Callable[[], object]:
        def call() -> object:
            with make() as client:
                return [client.token_rotate(slug) for _ in range(ROTATIONS_EACH)]
        return call

    results = dict(zip((a.name for a in agents),
                       run_all([rotate_thrice(a.name) for a in agents])))
    lost_total = 0
    for agent in agents:
        rotations = results[agent.name]
        lost = sum(r.meta.lost_answers for r in rotations)
        lost_total += lost
        [active] = AgentToken.objects.active().filter(agent=agent)
        # The first token, one per rotation, and one per lost rotation (revoked by the retry).
        assert AgentToken.objects.filter(agent=agent).count() == 1 + ROTATIONS_EACH + lost
        assert active.pk == rotations[-1].id
        assert _me(server.url, rotations[-1].token) == 200
    assert lost_total == proxy.counts.dropped > 0
    report(capsys, "rotations", engine=_engine(), agents=ROTATED_AGENTS,
           rotations=ROTATED_AGENTS * ROTATIONS_EACH, answers_lost=proxy.counts.dropped,
           lost_rotations_reported=lost_total,
           active_tokens=AgentToken.objects.active().count())


def test_a_lost_token_issue_is_reported_and_a_rotation_recovers(lossy, operator_token, capsys):
    proxy, server = lossy()
    make = client_factory(proxy.url, operator_token)
    agents = [agent_create(display_name=f"Issued {n:02d}") for n in range(ISSUED_AGENTS)]

    def issue(slug: str) -> Callable[[], object]:
        def call() -> object:
            with make() as client:
                return client.token_issue(slug)
        return call

    results = run_all([issue(a.name) for a in agents])
    lost = [r for r in results if isinstance(r, TokenAnswerLost)]
    issued = [r for r in results if not isinstance(r, TokenAnswerLost)]
    # A call that lost an answer says so; one that did not holds the secret.
    assert all(r.cause.call.lost_answers > 0 and r.cause.code == "token_already_active"
               for r in lost)
    assert all(r.meta.lost_answers == 0 for r in issued)
    assert sum(r.cause.call.lost_answers for r in lost) == proxy.counts.dropped
    assert lost and issued
    assert "taos token rotate" in str(lost[0])
    with make() as client:
        recovered = {r.slug: client.token_rotate(r.slug) for r in lost}
    for agent in agents:
        assert AgentToken.objects.active().filter(agent=agent).count() == 1
    for token in [*issued, *recovered.values()]:
        assert _me(server.url, token.token) == 200
    report(capsys, "token issues", engine=_engine(), issues=ISSUED_AGENTS,
           issued=len(issued), lost_issues_reported=len(lost), recovered_by_rotation=len(recovered),
           active_tokens=AgentToken.objects.active().count())


def _me(url: str, secret: str) -> int:
    return httpx.get(f"{url}/api/agent/me/", headers={"Authorization": f"Bearer {secret}"}
                     ).status_code


def _engine() -> str:
    from django.db import connection
    return connection.vendor

