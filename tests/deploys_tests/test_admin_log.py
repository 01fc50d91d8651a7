"""The agent's admin page, its list and the deploy task list write the admin's LogEntry.

Each button and action logs what it did (History and "Recent actions"), by
the user who did it, in the transaction of its effect: a refused, failed or
replayed submit logs nothing, and no secret is ever logged.
"""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.test import Client
from django.urls import reverse

from agents.models import Agent
from agents.services import agent_create
from console.admin import ConsoleAgentAdmin
from deploys.models import DeployTask
from deploys.services import deploy_create
from idempotency.forms import FORM_KEY_FIELD
from tests.support.admin_log import assert_not_logged, history, said
from tests.support.admin_pages import KEY_RE, SECRET_RE
from tests.support.agent_admin import page_of, token_url
from tokens import services as token_services
from tokens.models import AgentToken

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:agents_agent_changelist")
DEPLOY_NEW = reverse("admin:agents_agent_deploy_new")


def panel_key(client: Client, agent: Agent) -> str:
    """Render the agent's page; return its token panel's one-time key."""
    return KEY_RE.findall(client.get(page_of(agent)).content.decode())[-1]


def only_entry(obj) -> LogEntry:
    [entry] = history(obj)
    return entry


def test_issue_button_logs_the_new_token_on_the_agent_once(browser, root, agent):
    key = panel_key(browser, agent)
    first = browser.post(token_url(agent, "issue"), {FORM_KEY_FIELD: key})
    browser.post(token_url(agent, "issue"), {FORM_KEY_FIELD: key})  # a double submit
    token = AgentToken.objects.get()
    entry = only_entry(agent)
    assert (entry.user, entry.action_flag) == (root, CHANGE)
    assert said(entry) == f"Added agent token “{token}”."
    assert_not_logged(*SECRET_RE.findall(first.content.decode()))


def test_rotate_button_logs_the_revoked_and_the_new_token_once(browser, root, agent):
    old = token_services.token_issue(agent=agent)
    key = panel_key(browser, agent)
    first = browser.post(token_url(agent, "rotate"), {FORM_KEY_FIELD: key})
    browser.post(token_url(agent, "rotate"), {FORM_KEY_FIELD: key})
    new = AgentToken.objects.active().get()
    entry = only_entry(agent)
    assert (entry.user, entry.action_flag) == (root, CHANGE)
    assert said(entry) == (f"Changed Revoked at, Revoked by and Revoke reason for agent token "
                           f"“{old.token}”. Added agent token “{new}”.")
    assert_not_logged(old.secret, *SECRET_RE.findall(first.content.decode()))


def test_revoke_button_logs_the_revoked_token_and_a_second_revoke_logs_nothing(
        browser, root, agent):
    issued = token_services.token_issue(agent=agent)
    browser.post(token_url(agent, "revoke"))
    browser.post(token_url(agent, "revoke"))  # nothing left to revoke
    entry = only_entry(agent)
    assert (entry.user, entry.action_flag) == (root, CHANGE)
    assert said(entry) == ("Changed Revoked at, Revoked by and Revoke reason for agent token "
                           f"“{issued.token}”.")
    assert_not_logged(issued.secret)


def test_a_lost_issue_race_logs_nothing(browser, agent, monkeypatch):
    issue = token_services.token_issue

    def lose(**kwargs):
        issue(agent=agent)  # the winner, elsewhere
        return issue(**kwargs)
    monkeypatch.setattr(token_services, "token_issue", lose)
    response = browser.post(token_url(agent, "issue"), {FORM_KEY_FIELD: panel_key(browser, agent)})
    assert response.status_code == 302
    assert not LogEntry.objects.exists()


def test_refused_buttons_log_nothing(agent, make_user, deploy_command):
    deploy_command()
    viewer = make_user("viewer", perms=("agents.view_agent", "tokens.view_agenttoken",
                                        "deploys.view_deploytask"))
    viewer.is_staff = True
    viewer.save()
    client = Client()
    client.force_login(viewer)
    for operation in ("issue", "rotate", "revoke"):
        assert client.post(token_url(agent, operation)).status_code == 403
    assert client.post(reverse("admin:agents_agent_deploy", args=[agent.pk])).status_code == 403
    assert client.post(reverse("admin:agents_agent_archive",
                               args=[agent.pk])).status_code == 403
    assert client.post(DEPLOY_NEW, {"display_name": "X"}).status_code == 403
    client.post(CHANGELIST, {"action": "archive", "_selected_action": [agent.pk], "post": "yes"})
    assert not LogEntry.objects.exists()
    assert Agent.objects.get().status == "registered"


def test_deploy_button_logs_the_deploy_task_on_the_agent(browser, root, agent, deploy_command,
                                                        token_spy):
    deploy_command()
    browser.post(reverse("admin:agents_agent_deploy", args=[agent.pk]))
    browser.post(reverse("admin:agents_agent_deploy", args=[agent.pk]))  # refused: in progress
    task = DeployTask.objects.get()
    entry = only_entry(agent)
    assert (entry.user, entry.action_flag) == (root, CHANGE)
    assert said(entry) == f"Added deploy task “{task}”."
    assert_not_logged(*token_spy.all)


def test_a_deploy_whose_log_entry_fails_is_rolled_back(browser, agent, deploy_command,
                                                       monkeypatch):
    deploy_command()

    def fail(*args, **kwargs):
        raise RuntimeError("the log is down")
    monkeypatch.setattr(ConsoleAgentAdmin, "log_change", fail)
    with pytest.raises(RuntimeError):
        browser.post(reverse("admin:agents_agent_deploy", args=[agent.pk]))
    assert not DeployTask.objects.exists()
    assert Agent.objects.get().status == "registered"


def test_deploy_action_logs_each_deployed_agent_only(browser, root, agent, no_backend):
    archived = agent_create(display_name="Old Bot")
    Agent.objects.filter(pk=archived.pk).update(status="archived")
    browser.post(CHANGELIST, {"action": "deploy", "_selected_action": [agent.pk, archived.pk]})
    entry = only_entry(agent)
    assert (entry.user, entry.action_flag) == (root, CHANGE)
    assert said(entry) == f"Added deploy task “{DeployTask.objects.get()}”."
    assert history(archived) == []


def test_retry_button_logs_the_retried_task_on_the_agent(browser, root, no_backend):
    task = deploy_create(display_name="Failing Bot", framework="f", model="m")
    DeployTask.objects.filter(pk=task.pk).update(state="failed", error="exit 3")
    url = reverse("admin:agents_agent_deploy_retry", args=[task.agent.pk, task.pk])
    browser.post(url)
    retried = DeployTask.objects.get(pk=task.pk)  # skipped: no backend configured
    DeployTask.objects.filter(pk=task.pk).update(state="running")
    browser.post(url)  # refused: not retryable
    entry = only_entry(task.agent)
    assert (entry.user, entry.action_flag) == (root, CHANGE)
    assert said(entry) == f"Changed State for deploy task “{retried}”."


def test_retry_action_logs_each_retried_task(browser, root, no_backend):
    task = deploy_create(display_name="Failing Bot", framework="f", model="m")
    running = deploy_create(display_name="Busy Bot", framework="f", model="m")
    DeployTask.objects.filter(pk=task.pk).update(state="failed")
    DeployTask.objects.filter(pk=running.pk).update(state="running")
    browser.post(reverse("admin:deploys_deploytask_changelist"), {
        "action": "retry", "_selected_action": [task.pk, running.pk]})
    entry = only_entry(task)
    assert (entry.user, entry.action_flag) == (root, CHANGE)
    assert said(entry) == "Changed State."
    assert history(running) == []


def test_deploy_new_agent_form_logs_the_addition_once(browser, root, deploy_command, token_spy):
    deploy_command()
    [key] = KEY_RE.findall(browser.get(DEPLOY_NEW, follow=True).content.decode())
    form = {"display_name": "Deployed Bot", "framework": "smolagents", "model": "m",
            "color": "#888888", FORM_KEY_FIELD: key}
    browser.post(DEPLOY_NEW, form)
    assert browser.post(DEPLOY_NEW, form)["Idempotent-Replayed"] == "true"
    agent, task = Agent.objects.get(), DeployTask.objects.get()
    entry = only_entry(agent)
    assert (entry.user, entry.action_flag) == (root, ADDITION)
    assert said(entry) == f"Added. Added deploy task “{task}”."
    assert_not_logged(*token_spy.all)


def test_an_invalid_deploy_new_agent_form_logs_nothing(browser):
    browser.post(DEPLOY_NEW, {"display_name": "X", "color": "#888888", FORM_KEY_FIELD: "form-k"})
    assert not LogEntry.objects.exists()


def test_archive_form_logs_the_status_and_the_revoked_token_once(browser, root, agent):
    issued = token_services.token_issue(agent=agent)
    url = reverse("admin:agents_agent_archive", args=[agent.pk])
    browser.post(url, {"revoke_token": "on"})
    browser.post(url, {"revoke_token": "on"})  # the same form again: nothing left to change
    entry = only_entry(agent)
    assert (entry.user, entry.action_flag) == (root, CHANGE)
    assert said(entry) == ("Changed Status. Changed Revoked at, Revoked by and Revoke reason "
                           f"for agent token “{issued.token}”.")


def test_archive_form_without_revoking_logs_the_status_only(browser, agent):
    token_services.token_issue(agent=agent)
    browser.post(reverse("admin:agents_agent_archive", args=[agent.pk]), {})
    assert said(only_entry(agent)) == "Changed Status."


def test_archive_action_logs_each_agent_it_archived(browser, root, agent):
    archived = agent_create(display_name="Old Bot")
    Agent.objects.filter(pk=archived.pk).update(status="archived")
    browser.post(CHANGELIST, {"action": "archive", "_selected_action": [agent.pk, archived.pk],
                              "post": "yes"})
    entry = only_entry(agent)
    assert (entry.user, entry.action_flag, said(entry)) == (root, CHANGE, "Changed Status.")
    assert history(archived) == []
