"""The idempotency policy is published in the schema of every opted-in operation."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

OPTED_IN = [("post", "/api/agents/"), ("post", "/api/agents/deploy/")]


def schema(api) -> dict:
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def takes_key(operation: dict) -> bool:
    return any(p["in"] == "header" and p["name"] == "Idempotency-Key"
               for p in operation.get("parameters", []))


@pytest.mark.parametrize("method, path", OPTED_IN)
def test_create_and_deploy_take_the_key_and_publish_the_policy(api, method, path):
    operation = schema(api)["paths"][path][method]
    assert takes_key(operation)
    description = operation["description"]
    for words in ("1 to 255 visible ASCII characters",  # format
                  "86400 seconds (1 day, `IDEMPOTENCY_TTL_SECONDS`)",  # retention
                  "per principal",  # scope
                  "its status, body, `Content-Type` and `Location`, with "
                  "`Idempotent-Replayed: true`",  # what is replayed
                  "409 `idempotency_key_in_use`", "`Retry-After`",
                  "422 `idempotency_key_reused`"):
        assert words in description, words
    assert "Idempotent-Replayed" in operation["responses"][next(
        status for status in operation["responses"] if status.startswith("2"))]["headers"]


def test_the_retention_is_read_at_schema_time(api, settings):
    settings.IDEMPOTENCY_TTL_SECONDS = 3600
    operation = schema(api)["paths"]["/api/agents/"]["post"]
    assert "3600 seconds (1 hour, `IDEMPOTENCY_TTL_SECONDS`)" in operation["description"]


def test_a_required_key_is_published_as_required(api, settings):
    settings.IDEMPOTENCY_REQUIRED = True
    operation = schema(api)["paths"]["/api/agents/"]["post"]
    assert "400 `idempotency_key_required`" in operation["description"]


def test_exactly_the_operations_that_take_the_key_publish_the_policy(api):
    for method, path, operation in operations(schema(api)):
        published = "**Idempotency**" in operation.get("description", "")
        assert published == takes_key(operation), (method, path)
