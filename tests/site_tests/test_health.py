from __future__ import annotations

import re

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.support.http_auth import bearer, operator_bearer

WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


@pytest.fixture
def staff(make_user):
    user = make_user("staff")
    user.is_staff = True
    user.save()
    return user


@pytest.mark.django_db
def test_anonymous_learns_only_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_staff_session_sees_database_and_cache(client, staff):
    client.force_login(staff)
    response = client.get("/healthz")
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_a_token_sees_the_details(make_user):
    token = operator_bearer(make_user("prober"))  # not staff: the token is enough
    response = APIClient().get("/healthz", HTTP_AUTHORIZATION=token)
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_a_wrong_token_gets_the_anonymous_answer(client):
    response = client.get("/healthz", **bearer("taos_" + "A" * 40))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_a_non_staff_session_gets_the_anonymous_answer(client, make_user):
    client.force_login(make_user("plain"))
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.django_db
def test_healthz_writes_nothing_for_anyone(client, staff, settings):
    settings.DEBUG = False
    anonymous = APIClient()
    token = operator_bearer(staff)
    anonymous.get("/healthz")  # warm up: nothing to stamp or create later
    APIClient().get("/healthz", HTTP_AUTHORIZATION=token)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert anonymous.get("/healthz").status_code == 200
            assert APIClient().get("/healthz", HTTP_AUTHORIZATION=token).status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    assert statements, "the probe reads the database"
    assert not [sql for sql in statements if WRITES.match(sql)], statements


@pytest.mark.django_db
def test_healthz_is_503_when_database_is_unreachable(client, monkeypatch):
    def unreachable(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("django.db.backends.utils.CursorWrapper.execute", unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


@pytest.mark.django_db
def test_healthz_reports_a_failing_cache_without_failing(client, staff, monkeypatch):
    class DownRedis:  # django-redis with IGNORE_EXCEPTIONS answers None when Redis is down
        def has_key(self, key):
            return None

    monkeypatch.setattr("tinyagentos_site.health.cache", DownRedis())
    client.force_login(staff)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["cache"] == "unavailable"


@pytest.mark.django_db
def test_healthz_reports_a_raising_cache_without_failing(client, staff, monkeypatch):
    class Broken:
        def has_key(self, key):
            raise ConnectionError("cache down")

    monkeypatch.setattr("tinyagentos_site.health.cache", Broken())
    client.force_login(staff)
    assert client.get("/healthz").json()["cache"] == "unavailable"


@pytest.mark.django_db
def test_api_answers_503_problem_when_database_is_unreachable(api, monkeypatch):
    def unreachable(self, *args, **kwargs):
        raise OperationalError("could not connect to server: secret host detail")

    monkeypatch.setattr("django.db.backends.utils.CursorWrapper.execute", unreachable)
    api.raise_request_exception = False
    response = api.get("/api/agents/")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["code"] == "database_unavailable"
    assert "secret host detail" not in response.content.decode()
