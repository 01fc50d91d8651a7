"""Deploys whose worker died are marked failed after DEPLOY_STALE_SECONDS, and can be retried."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from agents.models import Agent
from deploys import jobs
from deploys.errors import AgentArchived, DeployInProgress, DeployNotRetryable
from deploys.jobs import deploy_mark_stale, deploy_run
from deploys.models import DeployTask
from deploys.services import deploy_create, deploy_retry
from tests.support.task_workers import run_queued_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def start_deploy(django_capture_on_commit_callbacks):
    def start(display_name: str = "Research Bot") -> DeployTask:
        with django_capture_on_commit_callbacks(execute=True):
            return deploy_create(display_name=display_name, framework="f", model="m")
    return start


@pytest.fixture
def retry(django_capture_on_commit_callbacks):
    def run(task: DeployTask) -> DeployTask:
        with django_capture_on_commit_callbacks(execute=True):
            return deploy_retry(task=task)
    return run


def as_if_claimed_by_a_dead_worker(task: DeployTask, *, seconds_ago: int) -> None:
    """Put `task` in the state a worker SIGKILLed mid-job leaves behind."""
    then = timezone.now() - timedelta(seconds=seconds_ago)
    DeployTask.objects.filter(pk=task.pk).update(
        state="running", attempts=1, started_at=then, heartbeat_at=then)


def refreshed(task: DeployTask) -> DeployTask:
    task.refresh_from_db()
    return task


def test_running_task_without_heartbeat_is_marked_failed_with_reason(
    deploy_command, start_deploy, settings
):
    deploy_command()
    settings.DEPLOY_STALE_SECONDS = 30
    task = start_deploy()
    as_if_claimed_by_a_dead_worker(task, seconds_ago=31)
    assert deploy_mark_stale() == 1
    task = refreshed(task)
    assert task.state == "failed"
    assert "no heartbeat for more than 30 s (DEPLOY_STALE_SECONDS)" in task.error
    assert task.finished_at is not None
    assert task.agent.status == Agent.Status.FAILED
    assert deploy_mark_stale() == 0  # once


def test_running_task_with_a_recent_heartbeat_is_left_alone(deploy_command, start_deploy, settings):
    deploy_command()
    settings.DEPLOY_STALE_SECONDS = 30
    task = start_deploy()
    as_if_claimed_by_a_dead_worker(task, seconds_ago=20)
    assert deploy_mark_stale() == 0
    assert refreshed(task).state == "running"


def test_queued_task_whose_job_was_never_enqueued_is_marked_failed(deploy_command, settings):
    deploy_command()
    settings.DEPLOY_STALE_SECONDS = 30
    task = deploy_create(display_name="Lost", framework="f", model="m")  # on_commit never ran
    DeployTask.objects.filter(pk=task.pk).update(
        queued_at=timezone.now() - timedelta(seconds=31))
    assert deploy_mark_stale() == 1
    assert "never enqueued" in refreshed(task).error


def test_queued_task_with_a_job_waits_for_a_worker_however_long(
    deploy_command, start_deploy, settings
):
    deploy_command()
    settings.DEPLOY_STALE_SECONDS = 30
    task = start_deploy()
    DeployTask.objects.filter(pk=task.pk).update(
        queued_at=timezone.now() - timedelta(hours=5))
    assert deploy_mark_stale() == 0
    assert refreshed(task).state == "queued"


def test_deploy_status_reports_a_stale_task_without_writing(
    api, deploy_command, start_deploy, settings
):
    deploy_command()
    settings.DEPLOY_STALE_SECONDS = 30
    task = start_deploy()
    as_if_claimed_by_a_dead_worker(task, seconds_ago=60)
    body = api.get("/api/agents/research-bot/deploy-status/").json()
    assert (body["state"], body["stale"]) == ("running", True)
    assert "DEPLOY_STALE_SECONDS" in body["error"]
    assert refreshed(task).state == "running"  # a read never writes; a sweep marks it


def test_a_live_deploy_is_not_reported_stale(api, deploy_command, start_deploy, settings):
    deploy_command()
    settings.DEPLOY_STALE_SECONDS = 30
    task = start_deploy()
    as_if_claimed_by_a_dead_worker(task, seconds_ago=5)
    body = api.get("/api/agents/research-bot/deploy-status/").json()
    assert (body["state"], body["stale"], body["error"]) == ("running", False, "")


def test_retry_of_a_stale_deploy_marks_it_failed_then_queues_it(
    deploy_command, start_deploy, settings, retry
):
    deploy_command()
    settings.DEPLOY_STALE_SECONDS = 30
    task = start_deploy()
    as_if_claimed_by_a_dead_worker(task, seconds_ago=60)
    retry(task)
    assert refreshed(task).state == "queued"


def test_mark_stale_deploys_command_fails_stale_tasks(
    deploy_command, start_deploy, settings, capsys
):
    deploy_command()
    settings.DEPLOY_STALE_SECONDS = 30
    task = start_deploy()
    as_if_claimed_by_a_dead_worker(task, seconds_ago=60)
    call_command("mark_stale_deploys")
    assert "Marked 1 stale deploy(s) failed." in capsys.readouterr().out
    assert refreshed(task).state == "failed"


def test_retry_of_a_failed_deploy_runs_it_once_more(deploy_command, start_deploy, retry):
    recorder = deploy_command(exit=1)
    task = start_deploy()
    run_queued_jobs()
    assert refreshed(task).state == "failed"
    deploy_command(exit=0)
    task = retry(task)
    assert task.state == "queued"
    assert (task.error, task.log_tail, task.finished_at) == ("", "", None)
    assert task.agent.status == Agent.Status.DEPLOYING
    assert run_queued_jobs() == 1
    task = refreshed(task)
    assert (task.state, task.attempts) == ("succeeded", 2)
    assert task.agent.status == Agent.Status.RUNNING
    assert [r["attempt"] for r in recorder.starts()] == ["1", "2"]


def test_retry_after_a_dead_worker_runs_once(deploy_command, start_deploy, retry, settings):
    recorder = deploy_command()
    settings.DEPLOY_STALE_SECONDS = 30
    task = start_deploy()
    run_queued_jobs()  # consumes the attempt-1 job...
    DeployTask.objects.filter(pk=task.pk).update(state="queued", attempts=0)
    as_if_claimed_by_a_dead_worker(task, seconds_ago=60)  # ...whose worker then "died"
    deploy_mark_stale()
    retry(task)
    assert run_queued_jobs() == 1
    task = refreshed(task)
    assert (task.state, task.attempts) == ("succeeded", 2)
    assert [r["attempt"] for r in recorder.starts()] == ["1", "2"]


def test_old_attempt_cannot_run_or_overwrite_a_retried_task(
    deploy_command, start_deploy, retry, settings
):
    recorder = deploy_command()
    settings.DEPLOY_STALE_SECONDS = 30
    task = start_deploy()
    run_queued_jobs()
    DeployTask.objects.filter(pk=task.pk).update(state="failed")
    retry(task)
    # A late duplicate of attempt 1 (say, re-delivered by the queue) claims nothing.
    assert deploy_run(deploy_task_id=task.pk, attempt=1)["claimed"] is False
    assert refreshed(task).state == "queued"
    run_queued_jobs()
    assert [r["attempt"] for r in recorder.starts()] == ["1", "2"]


def test_second_retry_of_the_same_task_is_refused(deploy_command, start_deploy, retry):
    deploy_command(exit=1)
    task = start_deploy()
    run_queued_jobs()
    retry(task)
    with pytest.raises(DeployNotRetryable) as excinfo:
        retry(task)
    assert "this one is queued" in str(excinfo.value.detail)


@pytest.mark.parametrize("state", ["queued", "running", "succeeded"])
def test_only_failed_or_skipped_deploys_can_be_retried(deploy_command, start_deploy, retry, state):
    deploy_command()
    task = start_deploy()
    DeployTask.objects.filter(pk=task.pk).update(state=state)
    with pytest.raises(DeployNotRetryable):
        retry(task)


def test_retry_while_another_deploy_of_the_agent_is_active_is_a_conflict(
    deploy_command, start_deploy, retry
):
    deploy_command()
    task = start_deploy()
    DeployTask.objects.filter(pk=task.pk).update(state="failed")
    DeployTask.objects.create(agent_id=task.agent_id, state="running")
    with pytest.raises(DeployInProgress):
        retry(task)
    assert refreshed(task).state == "failed"


def test_retry_of_an_archived_agents_deploy_is_refused(deploy_command, start_deploy, retry):
    deploy_command(exit=1)
    task = start_deploy()
    run_queued_jobs()
    Agent.objects.filter(pk=task.agent_id).update(status=Agent.Status.ARCHIVED)
    with pytest.raises(AgentArchived):
        retry(task)


def test_retry_of_a_skipped_deploy_with_no_backend_skips_again(no_backend, start_deploy, retry):
    task = start_deploy()
    task = retry(task)
    assert task.state == "skipped"
    assert task.agent.status == Agent.Status.REGISTERED


def test_attempt_that_lost_its_task_kills_its_command_and_writes_nothing(
    deploy_command, start_deploy, settings, monkeypatch
):
    recorder = deploy_command(sleep=60)
    settings.DEPLOY_HEARTBEAT_SECONDS = 0.2
    task = start_deploy()
    real_heartbeat = jobs._heartbeat

    def swept_meanwhile(**kwargs):
        # A sweeper (another host) decided this attempt was dead.
        DeployTask.objects.filter(pk=task.pk).update(state="failed", error="swept")
        return real_heartbeat(**kwargs)

    monkeypatch.setattr(jobs, "_heartbeat", swept_meanwhile)
    run_queued_jobs()
    task = refreshed(task)
    assert (task.state, task.error) == ("failed", "swept")
    assert recorder.ends() == []


def test_running_deploy_heartbeats_its_log_while_the_command_runs(
    deploy_command, start_deploy, settings, monkeypatch
):
    deploy_command(sleep=1.2, lines=1)
    settings.DEPLOY_HEARTBEAT_SECONDS = 0.2
    task = start_deploy()
    seen = []
    real_heartbeat = jobs._heartbeat

    def watch(**kwargs):
        owned = real_heartbeat(**kwargs)
        seen.append(DeployTask.objects.values_list("heartbeat_at", "log_tail").get(pk=task.pk))
        return owned

    monkeypatch.setattr(jobs, "_heartbeat", watch)
    run_queued_jobs()
    assert len(seen) >= 3
    assert seen[0][0] < seen[-1][0]
    assert "output line 0" in seen[-1][1]
