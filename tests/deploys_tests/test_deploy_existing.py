"""POST /api/agents/{slug}/deploy/ and POST /api/agents/{slug}/deploy/retry/ (deploy_existing)."""

from __future__ import annotations

import pytest

from agents.models import Agent
from agents.services import agent_archive, agent_create
from deploys.models import DeployTask
from deploys.services import deploy_existing
from tests.support.task_workers import run_queued_jobs
from tokens.models import AgentToken

# Every POST under /api/ declares JSON, also without a body (cross-site forms cannot).
JSON = "application/json"

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent() -> Agent:
    return agent_create(display_name="Research Bot", framework="smolagents", model="m")


def url(agent: Agent, retry: bool = False) -> str:
    return f"/api/agents/{agent.name}/deploy/" + ("retry/" if retry else "")


def test_deploying_a_registered_agent_queues_a_task_and_gives_it_one_token(
        api, agent, deploy_command, django_capture_on_commit_callbacks):
    recorder = deploy_command()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url(agent), content_type=JSON, HTTP_IDEMPOTENCY_KEY="deploy-1")
    assert response.status_code == 202, response.content
    assert response["Location"] == f"/api/agents/{agent.name}/deploy-status/"
    assert response.json()["state"] == "queued"
    agent.refresh_from_db()
    assert agent.status == Agent.Status.DEPLOYING
    assert AgentToken.objects.active().filter(agent=agent).count() == 1
    run_queued_jobs()
    assert DeployTask.objects.get().state == "succeeded"
    assert len(recorder.starts()) == 1


def test_the_same_key_replays_and_deploys_once(api, agent, deploy_command):
    deploy_command()
    first = api.post(url(agent), content_type=JSON, HTTP_IDEMPOTENCY_KEY="deploy-1")
    second = api.post(url(agent), content_type=JSON, HTTP_IDEMPOTENCY_KEY="deploy-1")
    assert (first.status_code, second.status_code) == (202, 202)
    assert second["Idempotent-Replayed"] == "true"
    assert DeployTask.objects.count() == 1


def test_a_second_deploy_while_one_runs_is_refused(api, agent, deploy_command):
    deploy_command()
    assert api.post(url(agent), content_type=JSON).status_code == 202
    response = api.post(url(agent), content_type=JSON)
    assert response.status_code == 409
    assert response.json()["code"] in ("deploy_in_progress", "agent_not_deployable")
    assert DeployTask.objects.count() == 1


def test_an_archived_agent_cannot_be_deployed(api, agent):
    agent_archive(agent=agent)
    response = api.post(url(agent), content_type=JSON)
    assert (response.status_code, response.json()["code"]) == (409, "agent_archived")


def test_a_running_agent_is_not_deployable(agent):
    from deploys.errors import AgentNotDeployable

    Agent.objects.filter(pk=agent.pk).update(status=Agent.Status.RUNNING)
    with pytest.raises(AgentNotDeployable):
        deploy_existing(agent=agent)


def test_retry_queues_a_failed_deploy_again(api, agent, deploy_command,
                                           django_capture_on_commit_callbacks):
    recorder = deploy_command(exit=3)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(url(agent), content_type=JSON)
    run_queued_jobs()
    assert DeployTask.objects.get().state == "failed"
    deploy_command()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url(agent, retry=True), content_type=JSON)
    assert response.status_code == 202
    run_queued_jobs()
    task = DeployTask.objects.get()
    assert (task.state, task.attempts) == ("succeeded", 2)
    assert len(recorder.starts()) >= 1


def test_retry_of_a_succeeded_deploy_is_refused(api, agent, no_backend):
    api.post(url(agent), content_type=JSON)  # no backend: skipped, which may be retried
    assert api.post(url(agent, retry=True), content_type=JSON).status_code == 202
    DeployTask.objects.update(state="succeeded")
    response = api.post(url(agent, retry=True), content_type=JSON)
    assert (response.status_code, response.json()["code"]) == (409, "deploy_not_retryable")
