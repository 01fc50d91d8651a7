"""The admin index shows the fleet at a glance, and reading it writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import Agent
from agents.services import agent_create
from console.fleet import fleet_summary
from deploys.models import DeployTask
from deploys.services import deploy_create
from idempotency.models import IdempotencyRecord
from tests.support.queries import writes
from tokens import services as token_services
from tokens.models import AgentToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(make_user, no_backend):
    root = make_user("root", superuser=True)
    agent_create(display_name="No Token Bot")
    with_token = agent_create(display_name="Token Bot")
    token_services.token_issue(agent=with_token)
    AgentToken.objects.update(created_at=timezone.now() - timedelta(days=40))
    failed = deploy_create(display_name="Failed Bot", framework="f", model="m")
    DeployTask.objects.filter(pk=failed.pk).update(state="failed", finished_at=timezone.now())
    Agent.objects.filter(pk=failed.agent_id).update(status="failed")
    now = timezone.now()
    for key, expires in (("live", now + timedelta(hours=1)), ("old", now - timedelta(hours=1))):
        IdempotencyRecord.objects.create(
            principal=f"user:{root.pk}", key=key, method="POST", path="/api/agents/",
            fingerprint="f" * 64, response_status=201, response_body=b"{}",
            response_headers={}, expires_at=expires)
    return root


def test_the_summary_counts_the_fleet(fleet):
    summary = fleet_summary()
    assert dict(summary["agents_by_status"]) == {
        "Registered": 2, "Deploying": 0, "Running": 0, "Failed": 1, "Archived": 0}
    assert summary["deploys_failed_recently"] == 1
    assert summary["deploys_in_flight"] == 0
    assert summary["agents_without_token"] == 1  # the failed one has the deploy's token
    assert summary["agent_tokens_unused"] == 1
    assert (summary["idempotency_keys_stored"], summary["idempotency_keys_expired"]) == (2, 1)


def test_the_index_shows_it_and_writes_nothing(fleet):
    client = Client()
    client.force_login(fleet)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="fleet-summary"' in text
    assert '<strong id="fleet-keys-expired">1</strong>' in text
    assert writes(queries) == []


def test_a_staff_user_who_may_not_see_agents_sees_no_summary(make_user):
    user = make_user("adder", perms=("tokens.add_operatortoken",))
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    assert 'id="fleet-summary"' not in client.get("/admin/").content.decode()
