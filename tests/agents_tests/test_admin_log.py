"""The agent's add and change forms keep Django's own LogEntry, once per submit."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, CHANGE
from django.urls import reverse

from agents.models import Agent
from agents.services import agent_create
from idempotency.forms import FORM_KEY_FIELD
from tests.support.admin_log import history, said
from tests.support.admin_pages import KEY_RE

pytestmark = pytest.mark.django_db

ADD = reverse("admin:agents_agent_add")


def test_add_form_logs_the_addition_once(browser, root):
    [key] = KEY_RE.findall(browser.get(ADD, follow=True).content.decode())
    form = {"display_name": "Research Bot", "color": "#123456", FORM_KEY_FIELD: key}
    browser.post(ADD, form)
    assert browser.post(ADD, form)["Idempotent-Replayed"] == "true"
    [entry] = history(Agent.objects.get())
    assert (entry.user, entry.action_flag, said(entry)) == (root, ADDITION, "Added.")


def test_change_form_logs_the_changed_fields(browser, root):
    agent = agent_create(display_name="Research Bot")
    browser.post(reverse("admin:agents_agent_change", args=[agent.pk]), {
        "display_name": "Research Bot 2", "color": agent.color, "host": "", "qmd_index": "",
        "emoji": "", "framework": "", "model": "", "_save": "Save"})
    [entry] = history(agent)
    assert (entry.user, entry.action_flag) == (root, CHANGE)
    assert "Display name" in said(entry)
