"""The embedded default's database cache never evicts a live entry, so lockout counters hold.

Django's own DatabaseCache, past MAX_ENTRIES, deletes a third of the live
rows in key order; each test also runs it, to show what the site's backend
prevents. The tests make a cache table of their own (the Redis runs have no
`taos_cache`) and drop it at the end; on MariaDB that DDL commits, hence
`transaction=True`.
"""

from __future__ import annotations

import logging

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from tests.support.http_auth import basic_auth

TABLE = "taos_cache_eviction_test"
OURS = "access.cache.DatabaseCache"
DJANGOS = "django.core.cache.backends.db.DatabaseCache"
BACKENDS = pytest.mark.parametrize("backend, keeps_live", [(OURS, True), (DJANGOS, False)],
                                   ids=["site", "django"])


@pytest.fixture
def cache_table(settings):
    """Point the default cache at a fresh table of `backend`; yield a setter."""

    def use(backend: str, max_entries: int):
        settings.CACHES = {"default": {
            "BACKEND": backend, "LOCATION": TABLE, "KEY_PREFIX": "eviction-test",
            "OPTIONS": {"MAX_ENTRIES": max_entries},
        }}
        call_command("createcachetable", verbosity=0)
        return caches["default"]

    yield use
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(TABLE)}")


def rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(TABLE)}")
        return cursor.fetchone()[0]


@BACKENDS
@pytest.mark.django_db(transaction=True)
def test_a_full_table_sweeps_expired_entries_and_keeps_live_ones(cache_table, backend,
                                                                 keeps_live):
    cache = cache_table(backend, max_entries=10)
    for n in range(10):
        cache.set(f"old-{n}", n, timeout=-1)  # already expired
    live = [f"live-{n:02}" for n in range(30)]
    for key in live:
        cache.set(key, key, timeout=600)

    kept = cache.get_many(live)
    assert not any(cache.has_key(f"old-{n}") for n in range(10))
    if keeps_live:
        assert kept == {key: key for key in live}
        assert rows() == 30  # the sweep deleted the expired rows, nothing else
    else:
        assert len(kept) < len(live)  # Django's cull evicted live entries


@pytest.mark.django_db(transaction=True)
def test_a_table_over_the_limit_is_logged_at_most_once_a_minute(cache_table, caplog,
                                                                monkeypatch):
    monkeypatch.setattr("access.cache.DatabaseCache._last_warning", 0.0)
    cache = cache_table(OURS, max_entries=3)
    with caplog.at_level(logging.WARNING, logger="access.cache"):
        for n in range(8):
            cache.set(f"k{n}", n, timeout=600)
    warnings = [r.getMessage() for r in caplog.records if r.name == "access.cache"]
    assert len(warnings) == 1
    assert "above MAX_ENTRIES=3" in warnings[0]


@BACKENDS
@pytest.mark.django_db(transaction=True)
def test_failures_from_many_addresses_do_not_unlock_an_address(cache_table, settings, make_user,
                                                               backend, keeps_live):
    """An attacker who fails from 40 more addresses cannot push the first one's counter out."""
    settings.TAOS_API_BASIC_AUTH = True
    settings.TAOS_AUTH_FAILURE_LIMIT = 3
    settings.TAOS_AUTH_USER_FAILURE_LIMIT = 1000
    settings.TAOS_AUTH_LOCKOUT_SECONDS = 600
    cache_table(backend, max_entries=20)
    make_user("operator")

    def attempt(address: str, username: str = "operator") -> int:
        return APIClient().get("/api/agents/", REMOTE_ADDR=address,
                               HTTP_AUTHORIZATION=basic_auth(username, "wrong")).status_code

    assert [attempt("192.0.2.1") for _ in range(4)] == [401, 401, 401, 429]
    for n in range(40):
        address = f"198.51.100.{n + 1}"
        assert [attempt(address, f"nobody-{n}") for _ in range(3)] == [401] * 3
    if keeps_live:  # every failure's two slots (address, user name) are still there
        assert rows() == 2 * (3 + 40 * 3)

    assert attempt("192.0.2.1") == (429 if keeps_live else 401)
