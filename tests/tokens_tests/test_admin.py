from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.support.admin_pages import secrets_on
from tokens import crypto, services
from tokens.errors import TokenAlreadyActive
from tokens.models import AgentToken, OperatorToken

pytestmark = pytest.mark.django_db

ADD = reverse("admin:tokens_agenttoken_add")
CHANGELIST = reverse("admin:tokens_agenttoken_changelist")


def assert_secret_not_kept(client: Client, secret: str) -> None:
    """The secret is in no cookie and not in the session."""
    assert all(secret not in morsel.value for morsel in client.cookies.values())
    assert secret not in str(dict(client.session.items()))


def test_add_issues_and_shows_the_secret_once(browser, agent, root):
    response = browser.post(ADD, {"agent": agent.pk})
    assert response.status_code == 200
    [secret] = secrets_on(response)
    assert "no-store" in response["Cache-Control"]
    row = AgentToken.objects.get(agent=agent)
    assert row.digest == crypto.digest(secret)
    assert row.created_by == root
    assert_secret_not_kept(browser, secret)
    # Never again: not on the list, not on the change page.
    for page in (CHANGELIST, reverse("admin:tokens_agenttoken_change", args=[row.pk])):
        text = browser.get(page).content.decode()
        assert secret not in text
        assert row.digest not in text


def test_add_form_refuses_a_second_active_token(browser, agent, issued):
    response = browser.post(ADD, {"agent": agent.pk})
    assert response.status_code == 200
    assert "already has an active token" in response.content.decode()
    assert secrets_on(response) == []
    assert AgentToken.objects.filter(agent=agent).count() == 1


def test_add_race_lost_after_the_form_check_is_no_500(browser, agent, monkeypatch):
    def lose(**kwargs):
        raise TokenAlreadyActive()
    monkeypatch.setattr(services, "token_issue", lose)
    response = browser.post(ADD, {"agent": agent.pk})
    assert response.status_code == 302
    assert "already has an active token" in browser.get(response.url, follow=True).content.decode()
    assert not AgentToken.objects.exists()


def test_change_form_has_no_editable_fields_and_cannot_undo_a_revocation(browser, agent,
                                                                          issued):
    change = reverse("admin:tokens_agenttoken_change", args=[issued.token.pk])
    page = browser.get(change).content.decode()
    assert 'name="agent"' not in page and 'name="revoked_at"' not in page
    assert 'name="digest"' not in page
    rotated = services.token_rotate(agent=agent)  # meanwhile, elsewhere
    response = browser.post(change, {"agent": agent.pk, "revoked_at": "", "_save": "Save"})
    assert response.status_code == 302
    assert list(AgentToken.objects.active().filter(agent=agent)) == [rotated.token]


def test_rotate_action_shows_new_secrets_once(browser, agent, other_agent, issued):
    other = services.token_issue(agent=other_agent)
    response = browser.post(CHANGELIST, {
        "action": "rotate", "_selected_action": [issued.token.pk, other.token.pk],
        "post": "yes",  # confirmed
    })
    assert response.status_code == 200
    shown = secrets_on(response)
    assert len(shown) == 2
    active = AgentToken.objects.active()
    assert sorted(t.digest for t in active) == sorted(crypto.digest(s) for s in shown)
    for secret in shown:
        assert_secret_not_kept(browser, secret)


def test_revoke_action_revokes_selected_tokens(browser, agent, issued):
    response = browser.post(CHANGELIST, {
        "action": "revoke", "_selected_action": [issued.token.pk], "post": "yes",
    })
    assert response.status_code == 302
    assert not AgentToken.objects.active().exists()


def test_actions_need_permissions(make_user, agent, issued):
    client = Client()
    viewer = make_user("viewer", perms=("tokens.view_agenttoken",))
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)
    response = client.post(CHANGELIST, {"action": "revoke", "post": "yes",
                                        "_selected_action": [issued.token.pk]})
    assert response.status_code in (200, 302)
    assert AgentToken.objects.active().count() == 1
    assert client.post(ADD, {"agent": agent.pk}).status_code == 403


def test_changelist_lists_tokens_without_digests(browser, agent, issued):
    text = browser.get(CHANGELIST).content.decode()
    assert issued.token.prefix in text
    assert agent.name in text
    assert issued.token.digest not in text


def test_operator_token_add_shows_the_secret_once(browser, make_user):
    user = make_user("alice")
    response = browser.post(reverse("admin:tokens_operatortoken_add"),
                            {"user": user.pk, "name": "backup", "expires_at_0": "",
                             "expires_at_1": ""})
    assert response.status_code == 200
    [secret] = secrets_on(response)
    row = OperatorToken.objects.get(user=user)
    assert row.name == "backup"
    assert row.digest == crypto.digest(secret)
    assert_secret_not_kept(browser, secret)


def test_operator_token_add_refuses_an_expiry_in_the_past(browser, make_user):
    user = make_user("alice")
    response = browser.post(reverse("admin:tokens_operatortoken_add"),
                            {"user": user.pk, "name": "late", "expires_at_0": "2020-01-01",
                             "expires_at_1": "12:00:00"})
    assert response.status_code == 200
    assert "The expiry must be in the future" in response.content.decode()
    assert not OperatorToken.objects.exists()


def test_operator_token_revoke_action(browser, make_operator_token):
    issued = make_operator_token()
    browser.post(reverse("admin:tokens_operatortoken_changelist"),
                 {"action": "revoke", "_selected_action": [issued.token.pk], "post": "yes"})
    assert OperatorToken.objects.get(pk=issued.token.pk).revoked_at is not None
