"""/metrics of a real gunicorn master: the sum over its four workers and its deploy worker.

Runs on the run's database (PostgreSQL with Redis in CI, or the SQLite
default). Each master gets a fresh metrics directory (gunicorn.conf.py), so
its counters start at zero and a scrape's totals are this test's traffic.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import httpx
import pytest

from deploys.models import DeployTask
from deploys.services import deploy_create
from harness.processes import wait_until
from tests.support.deploy_command import DeployCommand
from tests.support.http_auth import basic_auth, operator_bearer
from tests.support.scrape import Samples, parse, value

pytestmark = [pytest.mark.live]

CREATES = 16
WRONG_PASSWORDS = 8
REPLAYED = ("replayed_redis", "replayed_database", "replayed_after_wait")
REFUSED_409 = ("refused_in_use", "refused_no_slot")
IDEMPOTENCY = "taos_idempotency_requests_total"
AUTH = "taos_auth_attempts_total"


@pytest.fixture
def scraper_auth(make_user) -> dict[str, str]:
    return {"Authorization": operator_bearer(make_user("prometheus", perms=("metrics.view_metrics",)))}


def scrape(url: str, auth: dict[str, str]) -> Samples:
    response = httpx.get(f"{url}/metrics", headers=auth, timeout=30)
    assert response.status_code == 200, response.text
    return parse(response.text)


@pytest.fixture
def metrics_dir(tmp_path) -> Path:
    """The master's PROMETHEUS_MULTIPROC_DIR, given (else it makes its own), with a file
    a dead master left, which the start must remove or it would count again."""
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"left by a dead master")
    return directory


async def race(url: str, admin: dict[str, str], key: str) -> tuple[list[httpx.Response],
                                                                     list[httpx.Response]]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        creates = [client.post("/api/agents/", json={"display_name": "Metrics Bot"},
                               headers={**admin, "Idempotency-Key": key,
                                        "X-Test-Delay": "0.5"})
                   for _ in range(CREATES)]
        guesses = [client.get("/api/agents/", headers={
                       "Authorization": basic_auth("guessed", f"wrong-{n}")})
                   for n in range(WRONG_PASSWORDS)]
        answers = await asyncio.gather(*creates, *guesses)
    return list(answers[:CREATES]), list(answers[CREATES:])


def test_same_key_creates_and_wrong_passwords_add_up_over_workers_and_survive_a_kill(
        gunicorn_factory, make_user, scraper_auth, metrics_dir):
    make_user("admin", superuser=True)
    make_user("guessed")
    server = gunicorn_factory(workers=4, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    assert not (metrics_dir / "counter_999999.db").exists()
    admin = {"Authorization": basic_auth("admin")}

    creates, guesses = asyncio.run(race(server.url, admin, str(uuid.uuid4())))
    assert [g.status_code for g in guesses] == [401] * WRONG_PASSWORDS, server.log_tail()
    assert {r.status_code for r in creates} <= {201, 409}, server.log_tail()
    first = [r for r in creates if r.status_code == 201
             and r.headers["Idempotent-Replayed"] == "false"]
    replayed = [r for r in creates if r.status_code == 201
                and r.headers["Idempotent-Replayed"] == "true"]
    refused = [r for r in creates if r.status_code == 409]
    assert len(first) == 1

    samples = scrape(server.url, scraper_auth)
    by_outcome = {outcome: value(samples, IDEMPOTENCY, route="/api/agents/", outcome=outcome)
                  for outcome in ("first_run", *REPLAYED, *REFUSED_409, "refused_reused")}
    assert sum(by_outcome.values()) == value(samples, IDEMPOTENCY) == CREATES, by_outcome
    assert by_outcome["first_run"] == 1
    assert sum(by_outcome[o] for o in REPLAYED) == len(replayed), by_outcome
    assert sum(by_outcome[o] for o in REFUSED_409) == len(refused), by_outcome
    assert value(samples, "taos_idempotency_stored_total", route="/api/agents/") == 1
    assert value(samples, "taos_idempotency_slots_in_use") == 0
    assert value(samples, AUTH, method="basic", outcome="authentication_failed") == WRONG_PASSWORDS
    assert value(samples, "taos_http_request_duration_seconds_count",
                 route="/api/agents/", method="POST") == CREATES

    # A worker that counted some of it dies; its replacement starts from zero.
    workers = server.worker_pids()
    victims = [pid for pid in workers if (metrics_dir / f"counter_{pid}.db").exists()]
    assert victims, sorted(p.name for p in metrics_dir.iterdir())
    os.kill(victims[0], signal.SIGKILL)
    wait_until(lambda: victims[0] not in server.worker_pids()
               and len(server.worker_pids()) == len(workers),
               timeout=30, what="gunicorn to replace the killed worker")
    again = scrape(server.url, scraper_auth)
    for (name, labels), before in samples.items():
        if name.endswith(("_total", "_count", "_sum", "_bucket")):
            assert again.get((name, labels), 0) >= before, (name, dict(labels))
    assert value(again, IDEMPOTENCY) == CREATES
    assert value(again, AUTH, method="basic", outcome="authentication_failed") == WRONG_PASSWORDS


def test_metrics_refuse_anonymous_and_unpermitted_tokens_and_allow_a_listed_address(
        gunicorn_factory, make_user, scraper_auth):
    without = {"Authorization": operator_bearer(make_user("viewer", perms=("agents.view_agent",)))}
    server = gunicorn_factory(workers=2, TAOS_METRICS_ALLOW="198.51.100.0/24",
                              TAOS_TRUSTED_PROXIES="127.0.0.1")
    url = f"{server.url}/metrics"

    anonymous = httpx.get(url)
    assert anonymous.status_code == 401
    assert anonymous.headers["Content-Type"] == "application/problem+json"
    assert "taos_" not in anonymous.text
    assert httpx.get(url, headers=without).status_code == 403
    assert httpx.get(url, headers=scraper_auth).status_code == 200
    listed = httpx.get(url, headers={"X-Forwarded-For": "198.51.100.7"})
    assert listed.status_code == 200 and "taos_http_request_duration_seconds" in listed.text
    assert httpx.get(url, headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 401


def test_the_deploy_worker_the_master_forks_counts_its_jobs(
        gunicorn_factory, tmp_path, settings, scraper_auth, metrics_dir):
    recorder = DeployCommand(tmp_path / "deploys.jsonl")
    command = recorder.command()
    settings.DEPLOY_BACKEND, settings.DEPLOY_COMMAND = "command", command
    server = gunicorn_factory(workers=2, TAOS_DEPLOY_WORKERS="1", DEPLOY_BACKEND="command",
                              DEPLOY_COMMAND=command, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    [worker] = wait_until(server.deploy_worker_pids, timeout=30, what="the deploy worker")
    task = deploy_create(display_name="Metrics Deploy", framework="f", model="m")
    wait_until(lambda: DeployTask.objects.get(pk=task.pk).state == "succeeded", timeout=60,
               interval=0.2, what="the deploy to succeed")
    # Only the deploy worker runs jobs here: its own metrics file holds the count.
    assert (metrics_dir / f"histogram_{worker}.db").exists()
    samples = scrape(server.url, scraper_auth)
    assert value(samples, "taos_deploy_job_duration_seconds_count",
                 state="succeeded", backend="command") == 1
    assert value(samples, "taos_deploys", state="succeeded", backend="command") == 1
    assert value(samples, "taos_deploy_queue_depth") == 0
