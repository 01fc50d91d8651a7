"""The database itself refuses a second deploy in flight for an agent, on every engine.

MariaDB has no partial indexes: the unique index is on the stored generated
column `active_agent` (the agent while the task is queued or running, else NULL).
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.services import agent_create
from deploys.models import DeployTask
from tests.support.raw_sql import raw_insert, raw_update
from api.constraints import is_unique_violation

pytestmark = pytest.mark.django_db


def insert_task(agent, state: str) -> None:
    raw_insert(DeployTask, agent_id=agent.pk, state=state, backend="", attempts=0,
               result_id="", created_at=timezone.now(), log_tail="", error="")


@pytest.fixture
def agent():
    return agent_create(display_name="Research Bot")


@pytest.mark.parametrize(("first", "second"), [("queued", "running"), ("running", "queued"),
                                               ("queued", "queued")])
def test_raw_sql_cannot_insert_a_second_active_deploy(agent, first, second):
    insert_task(agent, first)
    with pytest.raises(IntegrityError) as info, transaction.atomic():
        insert_task(agent, second)
    assert is_unique_violation(info.value, constraint="uniq_agent_active_deploy",
                               table="deploys_deploytask", columns=["active_agent"]), info.value


def test_raw_sql_cannot_requeue_a_finished_deploy_beside_an_active_one(agent):
    insert_task(agent, "failed")
    insert_task(agent, "running")
    failed = DeployTask.objects.get(state="failed")
    with pytest.raises(IntegrityError), transaction.atomic():
        raw_update(DeployTask, failed.pk, state="queued")


def test_finished_deploys_are_many_per_agent(agent):
    for state in ("succeeded", "failed", "skipped", "failed"):
        insert_task(agent, state)
    insert_task(agent, "queued")
    assert DeployTask.objects.filter(agent=agent).count() == 5
