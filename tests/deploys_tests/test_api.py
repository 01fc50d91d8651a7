"""POST /api/agents/deploy/ and GET /api/agents/{slug}/deploy-status/."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from agents.models import Agent
from deploys.models import DeployTask
from deploys.services import deploy_create
from tests.support.task_workers import run_queued_jobs

pytestmark = pytest.mark.django_db

URL = "/api/agents/deploy/"
BODY = {"display_name": "Research Bot", "framework": "smolagents", "model": "qwen2.5:7b"}


def deploy(api, body=None, **kwargs):
    return api.post(URL, body if body is not None else BODY, format="json", **kwargs)


def test_deploy_answers_202_with_agent_task_and_status_location(api, deploy_command):
    deploy_command()
    response = deploy(api)
    assert response.status_code == 202
    assert response["Location"] == "/api/agents/research-bot/deploy-status/"
    body = response.json()
    assert body["agent"]["name"] == "research-bot"
    assert body["agent"]["status"] == "deploying"
    assert body["agent"]["framework"] == "smolagents"
    assert body["agent"]["model"] == "qwen2.5:7b"
    assert body["deploy"]["state"] == "queued"
    assert body["deploy"]["attempts"] == 0
    assert body["deploy"]["status_url"] == response["Location"]


def test_deploy_creates_agent_first_token_and_queued_task(api, deploy_command, token_spy):
    deploy_command()
    deploy(api)
    agent = Agent.objects.get()
    assert agent.status == Agent.Status.DEPLOYING
    task = DeployTask.objects.get()
    assert (task.agent_id, task.state, task.backend) == (agent.pk, "queued", "command")
    assert len(token_spy.issued) == 1
    assert token_spy.rotated == []  # the job rotates, not the request


def test_deploy_enqueues_its_job_only_when_the_transaction_commits(
    api, deploy_command, django_capture_on_commit_callbacks
):
    deploy_command()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = deploy(api, HTTP_X_REQUEST_ID="deploy-req-1")
        assert not DBTaskResult.objects.exists()
    assert len(callbacks) == 1
    callbacks[0]()
    job = DBTaskResult.objects.get()
    task = DeployTask.objects.get()
    assert job.task_path == "deploys.tasks.deploy_agent"
    # The job carries the ID of the request that queued it (docs/logging.md).
    assert response["X-Request-ID"] == "deploy-req-1"
    assert job.args_kwargs == {"args": [], "kwargs": {
        "deploy_task_id": task.pk, "attempt": 1, "request_id": "deploy-req-1"}}
    assert task.result_id == str(job.id)


def test_rolled_back_deploy_enqueues_nothing(deploy_command, django_capture_on_commit_callbacks):
    deploy_command()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():  # as the idempotency layer wraps the view
                deploy_create(display_name="Research Bot", framework="f", model="m")
                raise RuntimeError("the response could not be stored")
    assert callbacks == []
    assert not Agent.objects.exists()
    assert not DeployTask.objects.exists()
    assert not DBTaskResult.objects.exists()


@pytest.mark.parametrize("missing", ["framework", "model"])
def test_deploy_requires_framework_and_model(api, deploy_command, token_spy, missing):
    deploy_command()
    body = {k: v for k, v in BODY.items() if k != missing}
    response = deploy(api, body)
    assert response.status_code == 400
    assert response.json()["errors"][missing][0]["code"] == "required"
    assert not Agent.objects.exists()
    assert token_spy.issued == []


def test_deploy_validates_agent_fields_like_create(api, deploy_command):
    deploy_command()
    response = deploy(api, {**BODY, "display_name": "!!!", "color": "red"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["display_name"][0]["code"] == "invalid_display_name"
    assert errors["color"][0]["code"] == "invalid_color"
    assert not DeployTask.objects.exists()


# deploy_create takes no savepoint of its own: a failure dooms the enclosing
# transaction, so this runs outside the test's transaction, as in production.
@pytest.mark.django_db(transaction=True)
def test_deploy_failure_inside_the_transaction_leaves_nothing(api, deploy_command, monkeypatch):
    from deploys import services as deploy_services
    from api.errors import Conflict

    deploy_command()

    def refuse(*, agent, actor=None):
        raise Conflict("token refused", code="token_conflict")

    monkeypatch.setattr(deploy_services, "token_issue", refuse)
    response = deploy(api)
    assert response.status_code == 409
    assert response.json()["code"] == "token_conflict"
    assert not Agent.objects.exists()


def test_deploy_response_never_contains_a_token_secret(
    api, deploy_command, token_spy, django_capture_on_commit_callbacks
):
    deploy_command()
    with django_capture_on_commit_callbacks(execute=True):
        response = deploy(api)
    run_queued_jobs()
    status = api.get(response["Location"])
    assert len(token_spy.all) == 2
    for secret in token_spy.all:
        assert secret not in response.content.decode()
        assert secret not in status.content.decode()


def test_deploy_without_backend_registers_agent_and_skips_with_reason(
    api, no_backend, token_spy, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = deploy(api)
    assert response.status_code == 202
    body = response.json()
    assert body["agent"]["status"] == "registered"
    assert body["deploy"]["state"] == "skipped"
    assert "No deploy backend is configured" in body["deploy"]["error"]
    assert body["deploy"]["finished_at"] is not None
    assert callbacks == []  # no job: nothing pretends to deploy
    assert len(token_spy.issued) == 1  # the agent still gets its one token
    status = api.get(response["Location"]).json()
    assert status["state"] == "skipped"
    assert "No deploy backend is configured" in status["error"]


def test_deploy_status_shows_state_timestamps_log_and_attempts(
    api, deploy_command, django_capture_on_commit_callbacks
):
    deploy_command(lines=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = deploy(api)
    run_queued_jobs()
    status = api.get(response["Location"])
    assert status.status_code == 200
    body = status.json()
    assert body["agent"] == "research-bot"
    assert body["state"] == "succeeded"
    assert body["attempts"] == 1
    assert body["backend"] == "command"
    assert body["error"] == ""
    assert body["created_at"] <= body["started_at"] <= body["finished_at"]
    assert "deploying research-bot (smolagents, qwen2.5:7b)" in body["log_tail"]
    assert "output line 1" in body["log_tail"]
    assert api.get("/api/agents/research-bot/").json()["status"] == "running"


def test_deploy_status_of_a_never_deployed_agent_is_404_problem(api):
    api.post("/api/agents/", {"display_name": "Plain"}, format="json")
    response = api.get("/api/agents/plain/deploy-status/")
    assert response.status_code == 404
    assert response.json()["code"] == "deploy_not_found"


def test_deploy_status_of_unknown_agent_is_404(api):
    assert api.get("/api/agents/nobody/deploy-status/").status_code == 404


def test_deploy_needs_the_add_agent_permission(make_user, deploy_command):
    from rest_framework.test import APIClient

    deploy_command()
    client = APIClient()
    client.force_authenticate(make_user("viewer", perms=("agents.view_agent",)))
    assert deploy(client).status_code == 403
    assert not Agent.objects.exists()


def test_deploy_path_does_not_answer_get(api):
    assert api.get(URL).status_code == 405


def test_schema_documents_deploy_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/agents/deploy/" in schema
    assert "/api/agents/{slug}/deploy-status/" in schema
