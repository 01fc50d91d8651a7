"""An idempotent create costs at most 2 database round trips more than a plain one."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from agents.models import Agent

# The outer transaction must be the request's own, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/agents/"


def round_trips(queries: CaptureQueriesContext) -> list[str]:
    # On SQLite, the idempotent path sets the connection's busy timeout around
    # BEGIN (to bound the wait by IDEMPOTENCY_WAIT_SECONDS): an in-process
    # call into the library, no I/O, so not a round trip. Counted separately
    # in test_sqlite_sets_busy_timeout_only_around_begin.
    return [q["sql"] for q in queries.captured_queries
            if not q["sql"].startswith("PRAGMA busy_timeout")]


@pytest.fixture
def client(make_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(make_user("admin", superuser=True))
    return client


def test_idempotent_create_costs_at_most_two_round_trips_more(client, settings):
    settings.IDEMPOTENCY_CACHE_ALIAS = ""  # count the database path alone
    with CaptureQueriesContext(connection) as plain:
        assert client.post(URL, {"display_name": "Plain"}, format="json").status_code == 201
    with CaptureQueriesContext(connection) as keyed:
        response = client.post(URL, {"display_name": "Keyed"}, format="json",
                               HTTP_IDEMPOTENCY_KEY="fresh-key")
        assert response.status_code == 201
    extra = len(round_trips(keyed)) - len(round_trips(plain))
    assert extra <= 2, "\n".join([*round_trips(plain), "-- with a key:", *round_trips(keyed)])
    assert Agent.objects.count() == 2


def test_sqlite_sets_busy_timeout_only_around_begin(client, settings):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with CaptureQueriesContext(connection) as keyed:
        client.post(URL, {"display_name": "Keyed"}, format="json",
                    HTTP_IDEMPOTENCY_KEY="fresh-key")
    sql = [q["sql"] for q in keyed.captured_queries]
    begin = sql.index("BEGIN IMMEDIATE")
    wait_ms = int(settings.IDEMPOTENCY_WAIT_SECONDS * 1000)
    assert sql[begin - 1] == f"PRAGMA busy_timeout = {wait_ms}"
    assert sql[begin + 1].startswith("PRAGMA busy_timeout = ")
    assert sum(s.startswith("PRAGMA") for s in sql) == 2
