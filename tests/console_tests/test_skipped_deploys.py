"""A deploy skipped for want of a backend is told as a warning that says what to set, never a success."""

from __future__ import annotations

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from agents.services import agent_create
from deploys.backends import DEPLOY_DOCS

pytestmark = pytest.mark.django_db


@pytest.fixture
def root_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("root", superuser=True))
    return client


@pytest.fixture
def with_backend(settings) -> None:
    settings.DEPLOY_BACKEND = "command"
    settings.DEPLOY_COMMAND = "/bin/true"


def test_a_skipped_deploy_is_a_warning_naming_the_settings_and_the_docs(root_client,
                                                                      no_backend):
    agent = agent_create(display_name="Skip Bot", framework="f", model="m")
    response = root_client.post(reverse("admin:agents_agent_deploy", args=[agent.pk]))
    [said] = list(get_messages(response.wsgi_request))
    assert said.level == messages.WARNING
    text = str(said)
    assert "skipped" in text and "DEPLOY_BACKEND" in text and "DEPLOY_COMMAND" in text
    assert DEPLOY_DOCS in text


def test_the_agent_page_shows_a_skipped_deploy_as_a_warning_with_what_to_set(root_client,
                                                                           no_backend):
    agent = agent_create(display_name="Skip Bot", framework="f", model="m")
    root_client.post(reverse("admin:agents_agent_deploy", args=[agent.pk]))
    page = root_client.get(reverse("admin:agents_agent_change", args=[agent.pk]))
    text = page.content.decode()
    assert '<span class="taos-badge taos-state-skipped">skipped</span>' in text
    assert 'id="deploy-no-backend"' in text and "DEPLOY_COMMAND" in text and DEPLOY_DOCS in text


def test_the_fleet_warns_when_deploys_cannot_run(root_client, no_backend):
    text = root_client.get(reverse("admin:index")).content.decode()
    assert 'id="fleet-no-backend"' in text and "DEPLOY_BACKEND" in text


def test_the_fleet_does_not_warn_with_a_backend(root_client, with_backend):
    text = root_client.get(reverse("admin:index")).content.decode()
    assert 'id="fleet-no-backend"' not in text
    agent = agent_create(display_name="Run Bot", framework="f", model="m")
    assert 'id="deploy-no-backend"' not in root_client.get(
        reverse("admin:agents_agent_change", args=[agent.pk])).content.decode()


def test_the_fleet_counts_skipped_deploys(root_client, no_backend):
    agent = agent_create(display_name="Skip Bot", framework="f", model="m")
    root_client.post(reverse("admin:agents_agent_deploy", args=[agent.pk]))
    text = root_client.get(reverse("admin:index")).content.decode()
    assert '<strong id="fleet-deploys-skipped">1</strong>' in text


def test_the_agent_page_numbers_deploys_per_agent(root_client, no_backend):
    first = agent_create(display_name="First Bot", framework="f", model="m")
    second = agent_create(display_name="Second Bot", framework="f", model="m")
    for agent in (first, first, second):
        root_client.post(reverse("admin:agents_agent_deploy", args=[agent.pk]))
    text = root_client.get(reverse("admin:agents_agent_change", args=[second.pk])).content.decode()
    panel = text.split('id="deploy-list"', 1)[1]
    assert '">1</a></td>' in panel and '">3</a></td>' not in panel
