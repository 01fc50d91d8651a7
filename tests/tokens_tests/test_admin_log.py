"""The token admins write the admin's LogEntry: add forms, rotate and revoke actions.

Each logs on the token it made or changed, by the user who did it, in the
transaction of its effect; a refused or replayed submit logs nothing, and no
secret is ever logged (a token is named by its lookup prefix).
"""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.test import Client
from django.urls import reverse

from idempotency.forms import FORM_KEY_FIELD
from tests.support.admin_log import assert_not_logged, history, said
from tests.support.admin_pages import SECRET_RE, rendered_key
from tokens import services
from tokens.models import AgentToken, OperatorToken

pytestmark = pytest.mark.django_db

ADD = reverse("admin:tokens_agenttoken_add")
CHANGELIST = reverse("admin:tokens_agenttoken_changelist")
OPERATOR_ADD = reverse("admin:tokens_operatortoken_add")
OPERATOR_CHANGELIST = reverse("admin:tokens_operatortoken_changelist")
REVOKED = "Changed Revoked at, Revoked by and Revoke reason."


def test_add_form_logs_the_addition_once(browser, root, agent):
    form = {"agent": agent.pk, FORM_KEY_FIELD: rendered_key(browser, ADD)}
    first = browser.post(ADD, form)
    assert browser.post(ADD, form)["Idempotent-Replayed"] == "true"
    [entry] = history(AgentToken.objects.get())
    assert (entry.user, entry.action_flag, said(entry)) == (root, ADDITION, "Added.")
    assert_not_logged(*SECRET_RE.findall(first.content.decode()))


def test_a_refused_add_logs_nothing(browser, agent, issued):
    browser.post(ADD, {"agent": agent.pk, FORM_KEY_FIELD: "form-refused"})  # already active
    assert not LogEntry.objects.exists()


def test_operator_token_add_form_logs_the_addition_once(browser, root, make_user):
    user = make_user("alice")
    form = {"user": user.pk, "name": "backup", "expires_at_0": "", "expires_at_1": "",
            FORM_KEY_FIELD: rendered_key(browser, OPERATOR_ADD)}
    first = browser.post(OPERATOR_ADD, form)
    browser.post(OPERATOR_ADD, form)
    [entry] = history(OperatorToken.objects.get())
    assert (entry.user, entry.action_flag, said(entry)) == (root, ADDITION, "Added.")
    assert_not_logged(*SECRET_RE.findall(first.content.decode()))


def test_an_operator_token_for_someone_else_is_refused_and_not_logged(make_user):
    adder = make_user("adder", perms=("tokens.add_operatortoken", "tokens.view_operatortoken"))
    adder.is_staff = True
    adder.save()
    client = Client()
    client.force_login(adder)
    other = make_user("alice")
    client.post(OPERATOR_ADD, {"user": other.pk, "name": "x", "expires_at_0": "",
                               "expires_at_1": "", FORM_KEY_FIELD: "form-other"})
    assert not OperatorToken.objects.exists()
    assert not LogEntry.objects.exists()


def test_rotate_action_logs_the_revoked_and_the_new_token(browser, root, agent, issued):
    response = browser.post(CHANGELIST, {"action": "rotate", "post": "yes",
                                         "_selected_action": [issued.token.pk]})
    new = AgentToken.objects.active().get()
    [revoked] = history(issued.token)
    [added] = history(new)
    assert (revoked.user, revoked.action_flag, said(revoked)) == (root, CHANGE, REVOKED)
    assert (added.user, added.action_flag, said(added)) == (root, ADDITION, "Added.")
    assert_not_logged(issued.secret, *SECRET_RE.findall(response.content.decode()))


def test_revoke_action_logs_only_the_tokens_it_revoked(browser, root, agent, issued):
    old = services.token_rotate(agent=agent).replaced
    browser.post(CHANGELIST, {"action": "revoke", "post": "yes",
                              "_selected_action": [old.pk, AgentToken.objects.active().get().pk]})
    [entry] = LogEntry.objects.all()
    assert entry.object_id == str(AgentToken.objects.latest("pk").pk)
    assert (entry.user, entry.action_flag, said(entry)) == (root, CHANGE, REVOKED)


def test_actions_without_permission_log_nothing(make_user, agent, issued):
    viewer = make_user("viewer", perms=("tokens.view_agenttoken",))
    viewer.is_staff = True
    viewer.save()
    client = Client()
    client.force_login(viewer)
    for action in ("rotate", "revoke"):
        client.post(CHANGELIST, {"action": action, "_selected_action": [issued.token.pk]})
    assert AgentToken.objects.active().get() == issued.token
    assert not LogEntry.objects.exists()


def test_operator_token_revoke_action_logs_each_token_it_revoked(browser, root,
                                                                 make_operator_token):
    issued = make_operator_token()
    for _ in range(2):  # the second finds it revoked
        browser.post(OPERATOR_CHANGELIST, {"action": "revoke", "post": "yes",
                                           "_selected_action": [issued.token.pk]})
    [entry] = history(issued.token)
    assert (entry.user, entry.action_flag, said(entry)) == (root, CHANGE, "Changed Revoked at.")
    assert_not_logged(issued.secret)
