from __future__ import annotations

import pytest
from django.db import OperationalError


@pytest.mark.django_db
def test_healthz_reports_database_and_cache_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_healthz_is_503_when_database_is_unreachable(client, monkeypatch):
    def unreachable(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("django.db.backends.utils.CursorWrapper.execute", unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


@pytest.mark.django_db
def test_healthz_reports_a_failing_cache_without_failing(client, monkeypatch):
    monkeypatch.setattr("tinyagentos_site.health.cache.get", lambda key: None)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["cache"] == "unavailable"


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
