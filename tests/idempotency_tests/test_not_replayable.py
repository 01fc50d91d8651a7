"""A response that reveals a secret is never written to the table."""

from __future__ import annotations

import pytest

from agents.models import Agent
from idempotency.models import IdempotencyRecord

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.idempotency_tests.urls")]


def test_not_replayable_response_commits_its_effects_but_stores_no_record(api):
    response = api.post("/api/secret/", {"display_name": "Bot"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 201
    assert response["Idempotent-Replayed"] == "false"
    assert Agent.objects.count() == 1
    assert not IdempotencyRecord.objects.exists()


def test_retry_of_not_replayable_request_runs_again_and_never_sees_the_old_secret(api):
    first = api.post("/api/secret/", {"display_name": "Bot"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="k")
    retry = api.post("/api/secret/", {"display_name": "Bot"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="k")
    assert retry["Idempotent-Replayed"] == "false"
    assert retry.json()["token"] != first.json()["token"]
