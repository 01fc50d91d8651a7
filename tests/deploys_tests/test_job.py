"""The deploy job and the command backend: each attempt runs once, and says how it went."""

from __future__ import annotations

import logging
import time

import pytest
from django_tasks_db.models import DBTaskResult

from agents.models import Agent
from deploys import jobs
from deploys.jobs import deploy_run
from deploys.models import DEPLOY_LOG_TAIL_MAX_CHARS, DeployTask
from deploys.services import deploy_create
from deploys.tasks import deploy_agent
from harness.processes import pid_alive
from tests.support.task_workers import run_queued_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def start_deploy(django_capture_on_commit_callbacks):
    """Create a deploy as the API does (job enqueued on commit); return its task."""
    def start(display_name: str = "Research Bot") -> DeployTask:
        with django_capture_on_commit_callbacks(execute=True):
            return deploy_create(display_name=display_name, framework="smolagents",
                                 model="qwen2.5:7b")
    return start


def refreshed(task: DeployTask) -> DeployTask:
    task.refresh_from_db()
    return task


def test_command_exit_0_ends_succeeded_and_agent_running(deploy_command, start_deploy):
    recorder = deploy_command(lines=3)
    task = start_deploy()
    assert run_queued_jobs() == 1
    task = refreshed(task)
    assert task.state == "succeeded"
    assert task.error == ""
    assert task.attempts == 1
    assert task.started_at and task.finished_at and task.started_at <= task.finished_at
    assert "output line 2" in task.log_tail
    assert "[taos] succeeded" in task.log_tail
    assert task.agent.status == Agent.Status.RUNNING
    assert len(recorder.starts()) == 1


def test_command_non_zero_exit_ends_failed_with_reason_and_output(deploy_command, start_deploy):
    deploy_command(exit=3, lines=1)
    task = start_deploy()
    run_queued_jobs()
    task = refreshed(task)
    assert task.state == "failed"
    assert task.error == "The deploy command exited with status 3."
    assert "output line 0" in task.log_tail
    assert task.agent.status == Agent.Status.FAILED


def test_command_timeout_kills_it_and_ends_failed(deploy_command, start_deploy, settings):
    recorder = deploy_command(sleep=60, lines=1)
    settings.DEPLOY_TIMEOUT_SECONDS = 1
    task = start_deploy()
    began = time.monotonic()
    run_queued_jobs()
    assert time.monotonic() - began < 15
    task = refreshed(task)
    assert task.state == "failed"
    assert "timed out after 1 s" in task.error
    assert "output line 0" in task.log_tail
    assert task.agent.status == Agent.Status.FAILED
    [start] = recorder.starts()
    assert not pid_alive(start["pid"])
    assert recorder.ends() == []


def test_missing_executable_fails_cleanly(settings, start_deploy):
    settings.DEPLOY_BACKEND = "command"
    settings.DEPLOY_COMMAND = "/nonexistent/deploy-it --now"
    task = start_deploy()
    run_queued_jobs()
    task = refreshed(task)
    assert task.state == "failed"
    assert task.error.startswith("Could not start the deploy command '/nonexistent/deploy-it'")
    assert task.agent.status == Agent.Status.FAILED


def test_command_gets_fresh_token_in_env_and_agent_json_on_stdin(
    deploy_command, start_deploy, token_spy
):
    recorder = deploy_command()
    task = start_deploy()
    run_queued_jobs()
    [start] = recorder.starts()
    assert start["token"] == token_spy.rotated[0]
    assert start["token"] != token_spy.issued[0]  # the request's secret was discarded
    assert all(token_spy.rotated[0] not in arg for arg in start["argv"])
    assert start["slug"] == "research-bot"
    assert (start["task"], start["attempt"]) == (str(task.pk), "1")
    assert start["agent"]["name"] == "research-bot"
    assert start["agent"]["framework"] == "smolagents"
    assert start["agent"]["model"] == "qwen2.5:7b"
    assert (start["agent"]["deploy_task"], start["agent"]["attempt"]) == (task.pk, 1)
    assert "token" not in start["agent"]


def test_command_environment_holds_only_allowed_variables(
    deploy_command, start_deploy, settings, monkeypatch
):
    monkeypatch.setenv("SECRET_KEY", "not-for-deploy-commands")
    monkeypatch.setenv("DATABASE_URL", "postgres://nope")
    monkeypatch.setenv("TAOS_EXTRA", "1")
    recorder = deploy_command()
    settings.DEPLOY_COMMAND_PASS_ENV = ["TAOS_EXTRA"]
    start_deploy()
    run_queued_jobs()
    env = set(recorder.starts()[0]["env"])
    assert {"PATH", "TAOS_AGENT_TOKEN", "TAOS_AGENT_SLUG", "TAOS_EXTRA"} <= env
    assert not env & {"SECRET_KEY", "DATABASE_URL"}


def test_token_printed_by_the_command_is_redacted_from_the_log(
    deploy_command, start_deploy, token_spy
):
    deploy_command(print_token=True)
    task = start_deploy()
    run_queued_jobs()
    task = refreshed(task)
    assert "the token is [redacted]" in task.log_tail
    assert token_spy.rotated[0] not in task.log_tail


def test_token_secret_is_nowhere_in_database_or_log_records(
    api, deploy_command, token_spy, caplog, django_capture_on_commit_callbacks
):
    deploy_command(print_token=True)
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/agents/deploy/", {
            "display_name": "Research Bot", "framework": "f", "model": "m",
        }, format="json")
    run_queued_jobs()
    status = api.get(response["Location"])
    stored = [
        *(str(row) for row in DeployTask.objects.values()),
        *(str(row) for row in DBTaskResult.objects.values()),
        *(str(row) for row in Agent.objects.values()),
    ]
    assert DeployTask.objects.get().state == "succeeded"
    assert len(token_spy.all) == 2
    for secret in token_spy.all:
        assert secret not in response.content.decode()
        assert secret not in status.content.decode()
        assert secret not in caplog.text
        assert not any(secret in row for row in stored)


def test_job_enqueued_twice_runs_the_backend_once(deploy_command, start_deploy):
    recorder = deploy_command()
    task = start_deploy()
    duplicate = deploy_agent.enqueue(deploy_task_id=task.pk, attempt=1)
    assert run_queued_jobs() == 2
    assert len(recorder.starts()) == 1
    assert refreshed(task).state == "succeeded"
    assert DBTaskResult.objects.get(id=duplicate.id).return_value["claimed"] is False


def test_job_for_a_finished_task_claims_nothing(deploy_command, start_deploy):
    recorder = deploy_command()
    task = start_deploy()
    run_queued_jobs()
    result = deploy_run(deploy_task_id=task.pk, attempt=1)
    assert result == {"deploy_task": task.pk, "attempt": 1, "claimed": False}
    assert len(recorder.starts()) == 1


def test_log_tail_keeps_the_end_and_stays_bounded(deploy_command, start_deploy):
    deploy_command(lines=3000)
    task = start_deploy()
    run_queued_jobs()
    task = refreshed(task)
    assert len(task.log_tail) <= DEPLOY_LOG_TAIL_MAX_CHARS
    assert "output line 2999" in task.log_tail
    assert "output line 0\n" not in task.log_tail


def test_backend_unset_by_the_time_the_job_runs_skips_and_registers(
    deploy_command, start_deploy, settings
):
    recorder = deploy_command()
    task = start_deploy()
    settings.DEPLOY_BACKEND = ""
    run_queued_jobs()
    task = refreshed(task)
    assert task.state == "skipped"
    assert "No deploy backend is configured" in task.error
    assert task.agent.status == Agent.Status.REGISTERED
    assert recorder.starts() == []


def test_unknown_backend_fails_the_attempt_with_reason(deploy_command, start_deploy, settings):
    deploy_command()
    task = start_deploy()
    settings.DEPLOY_BACKEND = "kubernetes"
    run_queued_jobs()
    task = refreshed(task)
    assert task.state == "failed"
    assert "Unknown DEPLOY_BACKEND 'kubernetes'" in task.error


def test_token_rotation_failure_fails_the_attempt(deploy_command, start_deploy, monkeypatch):
    from api.errors import Conflict

    recorder = deploy_command()
    task = start_deploy()

    def refuse(*, agent, actor=None):
        raise Conflict("busy", code="token_conflict")

    monkeypatch.setattr(jobs, "token_rotate", refuse)
    run_queued_jobs()
    task = refreshed(task)
    assert task.state == "failed"
    assert task.error == "Could not issue the agent's deploy token (token_conflict)."
    assert recorder.starts() == []


def test_agent_archived_before_the_job_is_not_deployed(deploy_command, start_deploy):
    recorder = deploy_command()
    task = start_deploy()
    Agent.objects.filter(pk=task.agent_id).update(status=Agent.Status.ARCHIVED)
    run_queued_jobs()
    task = refreshed(task)
    assert task.state == "failed"
    assert "archived" in task.error
    assert task.agent.status == Agent.Status.ARCHIVED
    assert recorder.starts() == []


def test_a_job_that_crashes_marks_its_attempt_failed(deploy_command, start_deploy, monkeypatch):
    deploy_command()
    task = start_deploy()

    def crash(**kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(jobs, "agent_payload", crash)
    run_queued_jobs()
    task = refreshed(task)
    assert task.state == "failed"
    assert task.error == "The deploy job crashed (RuntimeError)."
    assert DBTaskResult.objects.get().status == "FAILED"


def test_agent_has_exactly_one_active_token_from_request_to_finished_deploy(
    deploy_command, start_deploy
):
    from tokens.models import AgentToken

    deploy_command()
    task = start_deploy()
    active = AgentToken.objects.filter(agent_id=task.agent_id, revoked_at__isnull=True)
    [first] = active
    run_queued_jobs()
    [current] = active.all()
    assert current.pk != first.pk  # the job rotated: the request's secret is dead
    assert refreshed(task).state == "succeeded"
