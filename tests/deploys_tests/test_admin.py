"""The admin: deploy tasks with a retry action; agents with their latest deploy state."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from agents.models import Agent
from deploys.models import DeployTask
from deploys.services import deploy_create
from tests.support.task_workers import run_queued_jobs

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:deploys_deploytask_changelist")


@pytest.fixture
def admin_client(make_user, settings) -> Client:
    # Admin pages link static files; tests have not run collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    client = Client()
    client.force_login(make_user("root", superuser=True))
    return client


@pytest.fixture
def failed_task(deploy_command, django_capture_on_commit_callbacks) -> DeployTask:
    deploy_command(exit=2)
    with django_capture_on_commit_callbacks(execute=True):
        task = deploy_create(display_name="Research Bot", framework="f", model="m")
    run_queued_jobs()
    task.refresh_from_db()
    assert task.state == "failed"
    return task


def test_deploy_task_changelist_shows_agent_state_times_and_error(admin_client, failed_task):
    page = admin_client.get(CHANGELIST).content.decode()
    assert "research-bot" in page
    assert "failed" in page
    assert "The deploy command exited with status 2." in page


def test_deploy_task_changelist_says_when_no_backend_is_configured(admin_client, no_backend):
    page = admin_client.get(CHANGELIST).content.decode()
    assert "No deploy backend is configured" in page


def test_deploy_task_changelist_does_not_warn_with_a_backend(admin_client, deploy_command):
    deploy_command()
    assert "No deploy backend is configured" not in admin_client.get(CHANGELIST).content.decode()


def test_admin_retry_action_queues_a_failed_deploy_once(
    admin_client, failed_task, deploy_command, django_capture_on_commit_callbacks
):
    recorder = deploy_command(exit=0)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(CHANGELIST, {
            "action": "retry", "_selected_action": [failed_task.pk],
        }, follow=True)
    assert "Queued 1 deploy(s) again." in response.content.decode()
    failed_task.refresh_from_db()
    assert failed_task.state == "queued"
    assert run_queued_jobs() == 1
    failed_task.refresh_from_db()
    assert failed_task.state == "succeeded"
    assert [r["attempt"] for r in recorder.starts()] == ["1", "2"]


def test_admin_retry_action_reports_deploys_it_cannot_retry(admin_client, failed_task):
    DeployTask.objects.filter(pk=failed_task.pk).update(state="succeeded")
    response = admin_client.post(CHANGELIST, {
        "action": "retry", "_selected_action": [failed_task.pk],
    }, follow=True)
    assert f"Not retried #{failed_task.pk}" in response.content.decode()
    failed_task.refresh_from_db()
    assert failed_task.state == "succeeded"


def test_deploy_tasks_cannot_be_added_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:deploys_deploytask_add")).status_code == 403


def test_deploy_task_detail_page_renders_read_only(admin_client, failed_task):
    url = reverse("admin:deploys_deploytask_change", args=[failed_task.pk])
    page = admin_client.get(url).content.decode()
    assert "exited with status 2" in page
    assert 'name="state"' not in page


def test_agent_admin_shows_the_latest_deploy_state(admin_client, failed_task):
    Agent.objects.create(name="never", display_name="Never")
    page = admin_client.get(reverse("admin:agents_agent_changelist")).content.decode()
    assert "failed: The deploy command exited with status 2." in page
    assert "never deployed" in page
    detail = admin_client.get(
        reverse("admin:agents_agent_change", args=[failed_task.agent_id])).content.decode()
    assert "failed: The deploy command exited with status 2." in detail


def test_agent_archive_action_still_works_with_the_deploy_column(admin_client, failed_task):
    response = admin_client.post(reverse("admin:agents_agent_changelist"), {
        "action": "archive", "_selected_action": [failed_task.agent_id], "post": "yes",
    }, follow=True)
    assert "Archived 1 agent(s)." in response.content.decode()
    assert Agent.objects.get(pk=failed_task.agent_id).status == Agent.Status.ARCHIVED
