"""Admin add forms run once per rendered form (idempotency/forms.py), in one process.

The races through real gunicorn workers are in tests/e2e/test_admin_form_races.py.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agents.models import Agent
from agents.services import agent_create
from idempotency import services
from idempotency.forms import FORM_KEY_FIELD, IN_USE_MESSAGE
from idempotency.models import IdempotencyRecord
from tests.support.admin_pages import KEY_RE, SECRET_RE, rendered_key
from tokens.models import AgentToken, OperatorToken

pytestmark = pytest.mark.django_db

AGENT_ADD = reverse("admin:agents_agent_add")


def agent_form(key: str, **fields: str) -> dict[str, str]:
    return {"display_name": "Double Click", "color": "#888888", "host": "", "qmd_index": "",
            "emoji": "", "framework": "", "model": "", "_save": "Save",
            FORM_KEY_FIELD: key, **fields}


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_each_rendering_of_the_add_form_carries_a_new_key(browser):
    assert rendered_key(browser, AGENT_ADD) != rendered_key(browser, AGENT_ADD)


def test_the_key_is_in_the_form_pages_url_so_back_and_reload_render_it_again(browser):
    response = browser.get(AGENT_ADD)
    assert response.status_code == 302
    with_key = response["Location"]
    assert with_key.startswith(AGENT_ADD + f"?{FORM_KEY_FIELD}=form-")
    keys = {KEY_RE.findall(browser.get(with_key).content.decode())[0] for _ in range(2)}
    assert keys == {with_key.rsplit("=", 1)[1]}


def test_a_double_submit_makes_one_agent_and_lands_twice_on_its_page(browser):
    key = rendered_key(browser, AGENT_ADD)
    first = browser.post(AGENT_ADD, agent_form(key))
    second = browser.post(AGENT_ADD, agent_form(key, csrfmiddlewaretoken="another"))
    agent = Agent.objects.get()
    page = reverse("admin:agents_agent_change", args=[agent.pk])
    assert (first.status_code, first["Location"]) == (302, page)
    assert (second.status_code, second["Location"]) == (302, page)
    assert first["Idempotent-Replayed"] == "false"
    assert second["Idempotent-Replayed"] == "true"
    # The same message (the first one's is still unread in the cookie: no redirect followed).
    assert said(second)[-1] == said(first)[-1]
    assert "was added successfully" in said(second)[-1]
    record = IdempotencyRecord.objects.get()
    assert (record.principal, record.key) == (f"user:{browser.session['_auth_user_id']}", key)


def test_the_same_key_with_changed_data_is_a_form_error_linking_to_the_first(browser):
    key = rendered_key(browser, AGENT_ADD)
    browser.post(AGENT_ADD, agent_form(key))
    agent = Agent.objects.get()
    response = browser.post(AGENT_ADD, agent_form(key, display_name="Other Name"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "already submitted with other data" in text
    assert f'href="{reverse("admin:agents_agent_change", args=[agent.pk])}"' in text
    assert 'value="Other Name"' in text  # the user's data is kept
    [fresh] = KEY_RE.findall(text)
    assert fresh != key
    assert Agent.objects.count() == 1
    # The new key makes the second agent.
    assert browser.post(AGENT_ADD, agent_form(fresh, display_name="Other Name")
                        ).status_code == 302
    assert Agent.objects.count() == 2


def test_an_invalid_submit_stores_nothing_and_the_corrected_form_uses_the_same_key(browser):
    key = rendered_key(browser, AGENT_ADD)
    invalid = browser.post(AGENT_ADD, agent_form(key, display_name="!!!"))
    assert invalid.status_code == 200
    assert not IdempotencyRecord.objects.exists()
    assert browser.post(AGENT_ADD, agent_form(key)).status_code == 302
    assert Agent.objects.count() == 1


def test_a_form_rendered_before_the_retention_still_works_once(browser, root):
    key = rendered_key(browser, AGENT_ADD)
    # Its key was used long ago, and that record expired (not yet purged).
    IdempotencyRecord.objects.create(
        principal=f"user:{root.pk}", key=key, method="POST", path=AGENT_ADD,
        fingerprint="0" * 64, response_status=302, response_body=b"{}",
        response_headers={"Location": "/admin/"},
        expires_at=timezone.now() - timedelta(seconds=1))
    assert browser.post(AGENT_ADD, agent_form(key)).status_code == 302
    assert browser.post(AGENT_ADD, agent_form(key))["Idempotent-Replayed"] == "true"
    assert Agent.objects.count() == 1


def test_a_refused_submit_does_not_touch_the_table(make_user):
    viewer = make_user("viewer", perms=("agents.view_agent",))
    viewer.is_staff = True
    viewer.save()
    client = Client()
    client.force_login(viewer)
    assert client.post(AGENT_ADD, agent_form("form-key-1")).status_code == 403
    assert not IdempotencyRecord.objects.exists()


def test_a_submit_without_a_key_still_works(browser):
    data = agent_form("")
    del data[FORM_KEY_FIELD]
    assert browser.post(AGENT_ADD, data).status_code == 302
    assert Agent.objects.count() == 1


def test_a_repeated_token_issue_lands_on_the_token_without_its_secret(browser):
    agent = agent_create(display_name="Token Bot")
    add = reverse("admin:tokens_agenttoken_add")
    key = rendered_key(browser, add)
    first = browser.post(add, {"agent": agent.pk, "_save": "Save", FORM_KEY_FIELD: key})
    [secret] = SECRET_RE.findall(first.content.decode())
    second = browser.post(add, {"agent": agent.pk, "_save": "Save", FORM_KEY_FIELD: key})
    token = AgentToken.objects.get()
    assert second.status_code == 302
    assert second["Location"] == reverse("admin:tokens_agenttoken_change", args=[token.pk])
    landed = browser.get(second["Location"]).content.decode()
    assert "cannot be shown again" in landed and "rotate the token" in landed
    assert secret not in landed and secret not in str(second.cookies)
    assert secret.encode() not in bytes(IdempotencyRecord.objects.get().response_body)


def test_a_repeated_operator_token_add_makes_one_token_and_shows_its_secret_once(browser, root):
    add = reverse("admin:tokens_operatortoken_add")
    key = rendered_key(browser, add)
    form = {"user": root.pk, "name": "script", "expires_at_0": "", "expires_at_1": "",
            "_save": "Save", FORM_KEY_FIELD: key}
    answers = [browser.post(add, form) for _ in range(3)]
    assert [len(SECRET_RE.findall(a.content.decode())) for a in answers] == [1, 0, 0]
    token = OperatorToken.objects.get()
    page = reverse("admin:tokens_operatortoken_change", args=[token.pk])
    assert [a.get("Location") for a in answers[1:]] == [page, page]


@pytest.mark.django_db(transaction=True)
def test_a_submit_whose_key_is_held_too_long_says_it_is_still_being_saved(browser, settings):
    """The wait is IDEMPOTENCY_WAIT_SECONDS on every engine (SQLite's busy timeout is 20 s).

    Another connection holds the form's key in an open transaction, as a
    first submit still running on another worker does (on SQLite: the write
    lock). The second submit gives up after the bound, lands back on the
    form, says why, makes nothing; once the holder rolls back the same form
    saves.
    """
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.5
    key = rendered_key(browser, AGENT_ADD)
    principal = f"user:{browser.session['_auth_user_id']}"
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                services.reserve(principal=principal, key=key, fingerprint="0" * 64,
                                 method="POST", path=AGENT_ADD, wait_seconds=1,
                                 expires_at=timezone.now() + timedelta(hours=1))
                held.set()
                release.wait(30)
                transaction.set_rollback(True)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        response = browser.post(AGENT_ADD, agent_form(key))
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join(30)

    assert response.status_code == 302
    assert response["Location"] == response.wsgi_request.get_full_path()
    assert said(response)[-1] == IN_USE_MESSAGE
    assert waited < 10, waited  # the wait bound (0.5 s), not SQLite's busy timeout
    assert not Agent.objects.exists()
    assert not IdempotencyRecord.objects.exists()

    saved = browser.post(AGENT_ADD, agent_form(key))
    agent = Agent.objects.get()
    assert saved["Location"] == reverse("admin:agents_agent_change", args=[agent.pk])
