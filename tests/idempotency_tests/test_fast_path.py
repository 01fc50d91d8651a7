"""Completed responses replayed from Redis; a Redis outage only costs speed."""

from __future__ import annotations

import base64
import json
import logging
import os
import pickle

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from agents.models import Agent
from harness.processes import free_port
from idempotency.models import IdempotencyRecord

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/agents/"


@pytest.fixture
def client(make_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(make_user("admin", superuser=True))
    return client


@pytest.fixture
def redis_down(settings) -> None:
    """Point the fast path at a local port where nothing listens."""
    settings.CACHES = {**settings.CACHES, "idempotency": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }}
    settings.IDEMPOTENCY_CACHE_ALIAS = "idempotency"


def post(client: APIClient, key: str = "key-1"):
    return client.post(URL, {"display_name": "Research Bot"}, format="json",
                       HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_a_fresh_key_writes_nothing_to_redis(client):
    from django.core.cache import caches

    before = set(caches["idempotency"].keys("idempotency:*"))
    assert post(client)["Idempotent-Replayed"] == "false"
    assert set(caches["idempotency"].keys("idempotency:*")) == before


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_replay_from_redis_does_not_touch_the_database(client):
    first = post(client)
    post(client)  # the first replay reads the table and writes Redis
    with CaptureQueriesContext(connection) as queries:
        replay = post(client)
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert replay["Location"] == first["Location"]
    assert queries.captured_queries == []


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_different_body_is_422_from_redis_too(client):
    post(client)
    response = client.post(URL, {"display_name": "Other"}, format="json",
                           HTTP_IDEMPOTENCY_KEY="key-1")
    assert response.status_code == 422
    assert Agent.objects.count() == 1


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_replay_through_database_warms_redis(client):
    from django.core.cache import caches

    post(client)
    caches["idempotency"].clear()
    assert post(client)["Idempotent-Replayed"] == "true"  # from the table
    with CaptureQueriesContext(connection) as queries:
        assert post(client)["Idempotent-Replayed"] == "true"
    assert queries.captured_queries == []


def test_with_redis_down_create_and_replay_work_and_log_a_warning(client, redis_down, caplog):
    with caplog.at_level(logging.WARNING, logger="idempotency.fast_path"):
        first = post(client)
        replay = post(client)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert Agent.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert any("Redis" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_redis_holds_json_never_a_pickle(client):
    from django.core.cache import caches

    first = post(client)
    post(client)  # the first replay writes Redis
    raw_client = caches["idempotency"].client.get_client()
    [stored_key] = caches["idempotency"].keys("idempotency:*")
    raw = raw_client.get(caches["idempotency"].make_key(stored_key))
    entry = json.loads(raw)
    assert base64.b64decode(entry["body"]) == first.content
    assert entry["status"] == 201


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_a_pickle_in_redis_is_never_unpickled_but_a_miss(client, tmp_path):
    from django.core.cache import caches

    first = post(client)
    post(client)
    cache = caches["idempotency"]
    [stored_key] = cache.keys("idempotency:*")
    marker = tmp_path / "unpickled"
    # What an attacker who can write Redis would plant: running it leaves a file.
    planted = pickle.dumps(_Exploit(str(marker)))
    cache.client.get_client().set(cache.make_key(stored_key), planted)
    replay = post(client)
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"  # from the table
    assert replay.content == first.content
    assert not marker.exists()


class _Exploit:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))
