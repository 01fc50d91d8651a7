"""Revoke, rotate and archive ask first, with a Cancel; the confirmed POST acts, with CSRF and permissions."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from agents.models import Agent
from agents.services import agent_create
from tests.support.agent_admin import page_of, token_url
from tokens import services as token_services
from tokens.models import AgentToken, OperatorToken

pytestmark = pytest.mark.django_db

AGENTS = reverse("admin:agents_agent_changelist")
TOKENS = reverse("admin:tokens_agenttoken_changelist")
OPERATOR_TOKENS = reverse("admin:tokens_operatortoken_changelist")


@pytest.fixture
def agent(db) -> Agent:
    return agent_create(display_name="Research Bot")


@pytest.mark.parametrize("operation", ["rotate", "revoke"])
def test_the_panel_button_asks_first_and_changes_nothing(browser, agent, operation):
    issued = token_services.token_issue(agent=agent)
    panel = browser.get(page_of(agent)).content.decode()
    assert f'<form method="get" action="{token_url(agent, operation)}">' in panel
    asked = browser.get(token_url(agent, operation))
    text = asked.content.decode()
    assert asked.status_code == 200
    assert f"{operation.capitalize()} the token of research-bot?" in text
    assert issued.token.prefix in text and "admin/css/base.css" in text
    assert f'<form method="post" action="{token_url(agent, operation)}">' in text
    assert "csrfmiddlewaretoken" in text
    assert f'href="{page_of(agent)}" class="button cancel-link">Cancel</a>' in text
    assert list(AgentToken.objects.active()) == [issued.token]


def test_the_confirmation_needs_the_permission_of_the_act(agent, make_user):
    token_services.token_issue(agent=agent)
    viewer = make_user("viewer", perms=("agents.view_agent", "tokens.view_agenttoken"))
    viewer.is_staff = True
    viewer.save()
    client = Client()
    client.force_login(viewer)
    for operation in ("rotate", "revoke"):
        assert client.get(token_url(agent, operation)).status_code == 403


def test_the_confirmed_post_keeps_its_csrf_check(root, agent):
    token_services.token_issue(agent=agent)
    client = Client(enforce_csrf_checks=True)
    client.force_login(root)
    assert client.post(token_url(agent, "revoke")).status_code == 403
    assert AgentToken.objects.active().count() == 1


def test_issue_is_not_a_get(browser, agent):
    assert browser.get(token_url(agent, "issue")).status_code == 405


@pytest.mark.parametrize("changelist, act, make", [
    (AGENTS, "archive", "agent"),
    (TOKENS, "revoke", "token"),
    (TOKENS, "rotate", "token"),
    (OPERATOR_TOKENS, "revoke", "operator_token"),
])
def test_list_actions_ask_first_then_act_when_confirmed(browser, agent, make_user,
                                                        changelist, act, make):
    token = token_services.token_issue(agent=agent).token
    operator_token = token_services.operator_token_create(user=make_user("scripter"),
                                                          name="script").token
    target = {"agent": agent, "token": token, "operator_token": operator_token}[make]
    before = (Agent.objects.get(pk=agent.pk).status, AgentToken.objects.active().count(),
              OperatorToken.objects.filter(revoked_at__isnull=True).count())
    asked = browser.post(changelist, {"action": act, "_selected_action": [target.pk]})
    text = asked.content.decode()
    assert asked.status_code == 200 and 'class="button cancel-link">Cancel</a>' in text
    assert str(target) in text
    assert '<input type="hidden" name="post" value="yes">' in text
    assert (Agent.objects.get(pk=agent.pk).status, AgentToken.objects.active().count(),
            OperatorToken.objects.filter(revoked_at__isnull=True).count()) == before
    done = browser.post(changelist, {"action": act, "_selected_action": [target.pk],
                                     "post": "yes"})
    assert done.status_code in (200, 302)
    target.refresh_from_db()
    if act == "archive":
        assert target.status == "archived"
    else:
        assert target.revoked_at is not None


def test_the_archive_page_has_a_cancel_and_its_checkbox_in_its_label(browser, agent):
    text = browser.get(reverse("admin:agents_agent_archive", args=[agent.pk])).content.decode()
    assert f'href="{page_of(agent)}" class="button cancel-link">Cancel</a>' in text
    assert '<label for="id_revoke_token" class="vCheckboxLabel"><input type="checkbox"' in text
