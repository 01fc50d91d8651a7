"""The agent's admin page: its token and deploys, and every button on it (each a service)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from agents.models import Agent
from agents.services import agent_create
from deploys.models import DeployTask
from deploys.services import deploy_create
from idempotency.forms import FORM_KEY_FIELD
from tests.support.admin_pages import KEY_RE, SECRET_RE
from tests.support.agent_admin import page_of, token_url
from tokens import crypto
from tokens import services as token_services
from tokens.models import AgentToken

pytestmark = pytest.mark.django_db


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_page_shows_the_token_metadata_and_never_its_secret(browser, agent):
    issued = token_services.token_issue(agent=agent)
    text = browser.get(page_of(agent)).content.decode()
    assert 'id="token-panel"' in text and issued.token.prefix in text
    assert issued.secret not in text and issued.token.digest not in text
    assert 'value="Rotate token"' in text and 'value="Revoke token"' in text
    assert 'value="Issue token"' not in text


def test_issue_shows_the_secret_once_and_a_repeat_lands_on_the_page(browser, agent):
    [key] = KEY_RE.findall(browser.get(page_of(agent)).content.decode())[-1:]
    first = browser.post(token_url(agent, "issue"), {FORM_KEY_FIELD: key})
    [secret] = SECRET_RE.findall(first.content.decode())
    assert AgentToken.objects.get().digest == crypto.digest(secret)
    again = browser.post(token_url(agent, "issue"), {FORM_KEY_FIELD: key})
    assert (again.status_code, again["Location"]) == (302, page_of(agent))
    assert "cannot be shown again" in said(again)[-1]
    assert AgentToken.objects.count() == 1


def test_rotate_and_revoke_buttons_call_the_services(browser, agent):
    token_services.token_issue(agent=agent)
    rotated = browser.post(token_url(agent, "rotate"), {FORM_KEY_FIELD: "form-rotate-1"})
    [secret] = SECRET_RE.findall(rotated.content.decode())
    assert AgentToken.objects.active().get().digest == crypto.digest(secret)
    revoked = browser.post(token_url(agent, "revoke"))
    assert revoked.status_code == 302
    assert "Revoked the agent's token." in said(revoked)
    assert not AgentToken.objects.active().exists()
    assert AgentToken.objects.count() == 2  # kept, revoked


def test_token_buttons_refuse_get_and_missing_permissions(agent, make_user):
    viewer = make_user("viewer", perms=("agents.view_agent", "tokens.view_agenttoken"))
    viewer.is_staff = True
    viewer.save()
    client = Client()
    client.force_login(viewer)
    text = client.get(page_of(agent)).content.decode()
    assert 'value="Issue token"' not in text and 'value="Deploy"' not in text
    for operation in ("issue", "rotate", "revoke"):
        assert client.post(token_url(agent, operation)).status_code == 403
    assert not AgentToken.objects.exists()


def test_the_deploy_button_deploys_a_registered_agent(browser, agent, deploy_command):
    deploy_command()
    text = browser.get(page_of(agent)).content.decode()
    assert 'value="Deploy"' in text and "Never deployed." in text
    response = browser.post(reverse("admin:agents_agent_deploy", args=[agent.pk]))
    assert response.status_code == 302
    task = DeployTask.objects.get()
    assert said(response)[-1] == f"Deploy #{task.pk} of research-bot queued."
    agent.refresh_from_db()
    assert agent.status == "deploying"
    text = browser.get(page_of(agent)).content.decode()
    assert "deploy-queued" in text and 'value="Deploy"' not in text


def test_the_retry_button_retries_a_failed_deploy(browser, no_backend):
    task = deploy_create(display_name="Failing Bot", framework="f", model="m")
    DeployTask.objects.filter(pk=task.pk).update(state="failed", error="exit 3",
                                                 log_tail="boom\n")
    text = browser.get(page_of(task.agent)).content.decode()
    assert "exit 3" in text and "boom" in text and 'value="Retry"' in text
    response = browser.post(reverse("admin:agents_agent_deploy_retry",
                                    args=[task.agent.pk, task.pk]))
    assert response.status_code == 302
    assert said(response)[-1].startswith("Retried:")
    assert DeployTask.objects.get().state == "skipped"  # no backend configured


def test_deploy_new_agent_form_runs_once(browser, deploy_command):
    deploy_command()
    url = reverse("admin:agents_agent_deploy_new")
    [key] = KEY_RE.findall(browser.get(url, follow=True).content.decode())
    form = {"display_name": "Deployed Bot", "framework": "smolagents", "model": "m",
            "color": "#888888", FORM_KEY_FIELD: key}
    first, second = browser.post(url, form), browser.post(url, form)
    agent = Agent.objects.get()
    assert {first["Location"], second["Location"]} == {page_of(agent)}
    assert second["Idempotent-Replayed"] == "true"
    assert (DeployTask.objects.count(), AgentToken.objects.active().count()) == (1, 1)
    changed = browser.post(url, {**form, "display_name": "Another Bot"})
    assert changed.status_code == 200
    assert "already submitted with other data" in changed.content.decode()
    assert Agent.objects.count() == 1


def test_deploy_new_agent_form_requires_framework_and_model(browser):
    url = reverse("admin:agents_agent_deploy_new")
    response = browser.post(url, {"display_name": "X", "color": "#888888",
                                  FORM_KEY_FIELD: "form-k"})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Agent.objects.exists()


@pytest.mark.parametrize("revoke", [False, True])
def test_archive_form_archives_and_revokes_the_token_only_if_asked(browser, agent, revoke):
    token_services.token_issue(agent=agent)
    url = reverse("admin:agents_agent_archive", args=[agent.pk])
    assert "keeps working" in browser.get(url).content.decode()
    response = browser.post(url, {"revoke_token": "on"} if revoke else {})
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.status == "archived"
    assert AgentToken.objects.active().exists() is not revoke
    assert AgentToken.objects.count() == 1


def test_the_deploy_action_deploys_the_selected_agents(browser, agent, no_backend):
    archived = agent_create(display_name="Old Bot")
    Agent.objects.filter(pk=archived.pk).update(status="archived")
    response = browser.post(reverse("admin:agents_agent_changelist"), {
        "action": "deploy", "_selected_action": [agent.pk, archived.pk]})
    assert response.status_code == 302
    assert DeployTask.objects.filter(agent=agent).count() == 1
    assert not DeployTask.objects.filter(agent=archived).exists()
    assert any("Not deployed old-bot" in m for m in said(response))


def test_the_list_links_the_deploy_new_agent_form(browser):
    text = browser.get(reverse("admin:agents_agent_changelist")).content.decode()
    assert reverse("admin:agents_agent_deploy_new") in text
