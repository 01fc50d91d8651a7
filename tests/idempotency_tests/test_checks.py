"""System checks and the API schema."""

from __future__ import annotations

import pytest

from idempotency.checks import MIDDLEWARE_PATH, check_settings


def test_check_reports_missing_middleware(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    assert [e.id for e in check_settings()] == ["idempotency.E001"]


def test_check_reports_non_positive_wait(settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0
    assert [e.id for e in check_settings()] == ["idempotency.E002"]


@pytest.mark.parametrize("waiters", [-1, 16, "2"])
def test_check_reports_waiters_per_key_out_of_range(settings, waiters):
    settings.IDEMPOTENCY_WAITERS_PER_KEY = waiters
    assert [e.id for e in check_settings()] == ["idempotency.E003"]


def test_check_passes_with_default_settings():
    assert check_settings() == []


@pytest.mark.django_db
def test_schema_documents_the_key_header_on_agent_create(api, make_user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(make_user("admin", superuser=True))
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    params = schema["paths"]["/api/agents/"]["post"]["parameters"]
    assert {"in": "header", "name": "Idempotency-Key"}.items() <= params[0].items()
    assert "parameters" not in schema["paths"]["/api/agents/"].get("get", {}) or all(
        p["name"] != "Idempotency-Key" for p in schema["paths"]["/api/agents/"]["get"]["parameters"]
    )


def test_check_reports_a_hook_that_names_nothing(settings):
    settings.IDEMPOTENCY_PRINCIPAL = "nowhere.principal_for"
    assert [e.id for e in check_settings()] == ["idempotency.E004"]


def test_check_warns_about_sqlite_without_immediate_transactions(settings):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    options = connection.settings_dict["OPTIONS"]
    mode = options.pop("transaction_mode")
    try:
        assert [e.id for e in check_settings()] == ["idempotency.W001"]
    finally:
        options["transaction_mode"] = mode
