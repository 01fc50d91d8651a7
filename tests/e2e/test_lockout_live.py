"""Guessing passwords is bounded across workers: 200 guesses, at most the limit reach the hasher.

Four gunicorn workers, eight concurrent clients, one shared count (Redis or
the database cache). The live servers' hasher appends a line to a file for
every password it checks (harness/counting_hasher.py). The clients
come through a trusted proxy (127.0.0.1) with their own X-Forwarded-For,
so the attacker and a bystander are two addresses.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.support.http_auth import PASSWORD, basic_auth

pytestmark = [pytest.mark.live]

LIMIT = 10
WINDOW = 15
GUESSES = 200
CLIENTS = 8
ATTACKER = "198.51.100.66"
BYSTANDER = "198.51.100.7"


def test_200_wrong_passwords_from_8_clients_reach_the_hasher_at_most_limit_times(
        gunicorn_factory, make_user, tmp_path):
    make_user("admin", superuser=True)
    count_file = tmp_path / "hasher-calls"
    server = gunicorn_factory(
        workers=4, TAOS_API_BASIC_AUTH="1", TAOS_AUTH_FAILURE_LIMIT=str(LIMIT),
        TAOS_AUTH_USER_FAILURE_LIMIT="100", TAOS_AUTH_LOCKOUT_SECONDS=str(WINDOW),
        TAOS_TRUSTED_PROXIES="127.0.0.1", TAOS_TEST_HASHER_COUNT_FILE=str(count_file))

    def headers(address: str, password: str) -> dict[str, str]:
        return {"Authorization": basic_auth("admin", password), "X-Forwarded-For": address}

    async def client(n: int, http: httpx.AsyncClient) -> list[httpx.Response]:
        return [await http.get("/api/agents/", headers=headers(ATTACKER, f"guess-{n}-{i}"))
                for i in range(GUESSES // CLIENTS)]

    async def attack() -> list[httpx.Response]:
        # One connection per client: keep-alive spreads them over the workers.
        https = [httpx.AsyncClient(base_url=server.url, timeout=30) for _ in range(CLIENTS)]
        try:
            batches = await asyncio.gather(*(client(n, h) for n, h in enumerate(https)))
        finally:
            for http in https:
                await http.aclose()
        return [r for batch in batches for r in batch]

    started = time.monotonic()
    responses = asyncio.run(attack())
    elapsed = time.monotonic() - started
    assert elapsed < WINDOW, "the attack outlasted the lockout window; the count is void"

    statuses = [r.status_code for r in responses]
    checked = count_file.read_text().splitlines() if count_file.exists() else []
    assert len(statuses) == GUESSES
    assert set(statuses) <= {401, 429}, (statuses, server.log_tail())
    assert statuses.count(401) <= LIMIT
    assert statuses.count(429) >= GUESSES - LIMIT
    assert 0 < len(checked) <= LIMIT, checked
    locked = [r for r in responses if r.status_code == 429]
    assert all(r.json()["code"] == "authentication_locked_out" for r in locked)
    assert all(0 < int(r.headers["Retry-After"]) <= WINDOW for r in locked)

    # The right password from the attacker's address waits for the window...
    assert httpx.get(f"{server.url}/api/agents/",
                     headers=headers(ATTACKER, PASSWORD)).status_code == 429
    # ...and another address is not locked out.
    assert httpx.get(f"{server.url}/api/agents/",
                     headers=headers(BYSTANDER, PASSWORD)).status_code == 200
    assert len(count_file.read_text().splitlines()) == len(checked) + 1

    log = server.log_tail(2000)
    assert f"authentication locked out: method=basic address={ATTACKER} user='admin'" in log
    assert "guess-" not in log  # never the secret

    # After the window (its oldest failure expires: Retry-After says when),
    # the right password works again.
    time.sleep(max(0.0, started + WINDOW - time.monotonic()))
    deadline = time.monotonic() + WINDOW
    while True:
        response = httpx.get(f"{server.url}/api/agents/", headers=headers(ATTACKER, PASSWORD))
        if response.status_code != 429 or time.monotonic() > deadline:
            break
        time.sleep(float(response.headers["Retry-After"]))
    assert response.status_code == 200, response.text
