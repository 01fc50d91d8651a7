"""Idempotent creates through real gunicorn workers against the test database.

Every test runs on the backend of the run: PostgreSQL (DATABASE_URL) or the
SQLite default. Racing clients authenticate with HTTP Basic, which live
servers check with a fast hasher (harness/live_settings.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
import uuid

import httpx
import pytest

from agents.models import Agent
from harness.live_views import wait_for_pid
from harness.processes import free_port
from idempotency.models import IdempotencyRecord
from tests.support.http_auth import basic_auth

pytestmark = [pytest.mark.live]

URL = "/api/agents/"
BODY = {"display_name": "Research Bot"}


@pytest.fixture
def auth(make_user) -> dict[str, str]:
    make_user("admin", superuser=True)
    return {"Authorization": basic_auth("admin")}


def headers(auth: dict[str, str], key: str, **extra: str) -> dict[str, str]:
    return {**auth, "Idempotency-Key": key, **extra}


async def post_all(urls: list[str], body: dict, hdrs: dict) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60) as client:
        return await asyncio.gather(*(client.post(f"{url}{URL}", json=body, headers=hdrs)
                                      for url in urls))



def assert_one_replayed_set(responses: list[httpx.Response], log: str) -> None:
    """One execution; every other answer its replay, or 409 with Retry-After (its key's
    waiter slots were full: docs/idempotency.md, "Fair waiting")."""
    assert {r.status_code for r in responses} <= {201, 409}, log
    created = [r for r in responses if r.status_code == 201]
    assert len({r.content for r in created}) == 1
    replayed = sorted(r.headers["Idempotent-Replayed"] for r in created)
    assert replayed == ["false"] + ["true"] * (len(created) - 1)
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["code"] == "idempotency_key_in_use"
        assert int(refused.headers["Retry-After"]) >= 1


def assert_every_one_replayed(responses: list[httpx.Response], log: str) -> None:
    assert [r.status_code for r in responses] == [201] * len(responses), log
    assert_one_replayed_set(responses, log)


def test_32_concurrent_same_key_posts_create_one_agent(gunicorn_server, auth):
    key = str(uuid.uuid4())
    responses = asyncio.run(post_all([gunicorn_server.url] * 32, BODY, headers(auth, key)))
    assert_one_replayed_set(responses, gunicorn_server.log_tail())
    assert Agent.objects.count() == 1
    assert IdempotencyRecord.objects.get().key == key


def test_duplicates_arriving_while_first_runs_wait_and_replay_it(gunicorn_server, auth):
    # The holder and IDEMPOTENCY_WAITERS_PER_KEY (2) waiters: all admitted.
    responses = asyncio.run(post_all([gunicorn_server.url] * 3, BODY,
                                     headers(auth, "slow-key", **{"X-Test-Delay": "0.5"})))
    assert_every_one_replayed(responses, gunicorn_server.log_tail())
    assert Agent.objects.count() == 1


def test_two_hosts_sharing_the_database_create_one_agent(gunicorn_factory, auth):
    first, second = gunicorn_factory(workers=2), gunicorn_factory(workers=2)
    urls = [first.url, second.url] * 8
    responses = asyncio.run(post_all(urls, BODY, headers(auth, str(uuid.uuid4()))))
    assert_one_replayed_set(responses, first.log_tail() + second.log_tail())
    assert Agent.objects.count() == 1


def test_worker_killed_mid_view_frees_the_key_for_a_waiting_retry(
        gunicorn_factory, auth, tmp_path):
    server = gunicorn_factory(workers=4, IDEMPOTENCY_TEST_PID_DIR=str(tmp_path))
    key = "killed-key"

    async def scenario() -> tuple[BaseException | httpx.Response, httpx.Response,
                                  httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            doomed = asyncio.create_task(client.post(
                URL, json=BODY, headers=headers(auth, key, **{"X-Test-Delay": "25"})))
            pid = await asyncio.to_thread(wait_for_pid, tmp_path, key)
            assert pid in server.worker_pids()
            waiting = asyncio.create_task(client.post(URL, json=BODY, headers=headers(auth, key)))
            await asyncio.sleep(0.5)  # the retry is now waiting on the reservation
            assert not waiting.done()
            os.kill(pid, signal.SIGKILL)
            first = (await asyncio.gather(doomed, return_exceptions=True))[0]
            retry = await waiting
            later = await client.post(URL, json=BODY, headers=headers(auth, key))
            return first, retry, later

    first, retry, later = asyncio.run(scenario())
    assert isinstance(first, httpx.HTTPError)  # its worker died: no answer
    assert retry.status_code == 201, server.log_tail()
    assert retry.headers["Idempotent-Replayed"] == "false"
    assert later.status_code == 201
    assert later.headers["Idempotent-Replayed"] == "true"
    assert later.content == retry.content
    assert Agent.objects.count() == 1


def test_duplicate_waits_at_most_the_bound_then_409_and_later_replays(
        gunicorn_factory, auth, tmp_path):
    server = gunicorn_factory(workers=4, IDEMPOTENCY_WAIT_SECONDS="1",
                              IDEMPOTENCY_TEST_PID_DIR=str(tmp_path))
    key = "held-key"

    async def scenario() -> tuple[httpx.Response, float, httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            held = asyncio.create_task(client.post(
                URL, json=BODY, headers=headers(auth, key, **{"X-Test-Delay": "4"})))
            await asyncio.to_thread(wait_for_pid, tmp_path, key)
            started = time.monotonic()
            duplicate = await client.post(URL, json=BODY, headers=headers(auth, key))
            waited = time.monotonic() - started
            first = await held
            retry = await client.post(URL, json=BODY, headers=headers(auth, key))
            return duplicate, waited, first, retry

    duplicate, waited, first, retry = asyncio.run(scenario())
    assert duplicate.status_code == 409, server.log_tail()
    assert duplicate.json()["code"] == "idempotency_key_in_use"
    assert int(duplicate.headers["Retry-After"]) >= 1
    assert 0.9 <= waited < 3.5
    assert first.status_code == 201
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    assert Agent.objects.count() == 1


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own on a free port, stopped by its PID."""
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        pytest.skip("needs redis-server and redis-cli")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                         text=True).stdout.strip() != "PONG":
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)
    yield port, process
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)


def test_with_redis_stopped_creates_and_replays_still_work(gunicorn_factory, auth, own_redis):
    port, redis_process = own_redis
    server = gunicorn_factory(workers=2, REDIS_URL=f"redis://127.0.0.1:{port}/0")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        before = client.post(URL, json=BODY, headers=headers(auth, "before-outage"))
        assert before.status_code == 201, server.log_tail()
        cached = client.post(URL, json=BODY, headers=headers(auth, "before-outage"))
        assert cached.headers["Idempotent-Replayed"] == "true"

        redis_process.terminate()
        redis_process.wait(timeout=10)

        replay = client.post(URL, json=BODY, headers=headers(auth, "before-outage"))
        created = client.post(URL, json={"display_name": "Other"},
                              headers=headers(auth, "during-outage"))
        created_replay = client.post(URL, json={"display_name": "Other"},
                                     headers=headers(auth, "during-outage"))
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (201, "true")
    assert replay.content == before.content
    assert (created.status_code, created.headers["Idempotent-Replayed"]) == (201, "false")
    assert (created_replay.status_code, created_replay.headers["Idempotent-Replayed"]) == (
        201, "true")
    assert Agent.objects.count() == 2
    assert "idempotency: Redis read failed" in server.log_tail(200)
