"""The Redis caches hold JSON: a pickle there (from before, or planted) is never unpickled."""

from __future__ import annotations

import json
import os
import pickle

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from access import lockout
from tests.support.http_auth import PASSWORD, basic_auth

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")

ADDRESS = "192.0.2.77"


class _Exploit:
    """What someone who can write to Redis would plant: unpickling it leaves a file."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _raw_set(key: str, value: bytes) -> None:
    cache.client.get_client().set(cache.make_key(key), value)


def test_the_default_cache_stores_json():
    cache.set("serializer-probe", {"a": [1, 2.5, "x"]}, timeout=30)
    raw = cache.client.get_client().get(cache.make_key("serializer-probe"))
    assert json.loads(raw) == {"a": [1, 2.5, "x"]}
    assert cache.get("serializer-probe") == {"a": [1, 2.5, "x"]}


def test_a_pickle_in_the_default_cache_reads_as_none_and_is_never_run(tmp_path):
    marker = tmp_path / "unpickled"
    _raw_set("planted", pickle.dumps(_Exploit(str(marker))))
    assert cache.get("planted") is None
    assert cache.get_many(["planted"]) == {"planted": None}
    assert not marker.exists()


def test_an_unreadable_lockout_slot_still_counts_as_taken(settings, make_user, tmp_path):
    settings.TAOS_API_BASIC_AUTH = True
    settings.TAOS_AUTH_FAILURE_LIMIT = 2
    settings.TAOS_AUTH_USER_FAILURE_LIMIT = 100
    make_user("operator", superuser=True)
    marker = tmp_path / "unpickled"
    first_slot = lockout.Counter("addr", ADDRESS, 2).keys[0]
    _raw_set(first_slot, pickle.dumps(_Exploit(str(marker))))

    def get(password: str):
        return APIClient().get("/api/agents/", HTTP_AUTHORIZATION=basic_auth("operator", password),
                               REMOTE_ADDR=ADDRESS)

    assert get("wrong").status_code == 401  # takes the second slot
    locked = get(PASSWORD)
    assert locked.status_code == 429, locked.content  # both slots taken: locked out
    assert 1 <= int(locked["Retry-After"]) <= settings.TAOS_AUTH_LOCKOUT_SECONDS
    assert not marker.exists()
