"""The console's lists: sensible defaults, counts that link into them, states in colour and words."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from agents.models import Agent
from agents.services import agent_create
from deploys.models import DeployTask
from deploys.services import deploy_create

pytestmark = pytest.mark.django_db

AGENTS = reverse("admin:agents_agent_changelist")
DEPLOYS = reverse("admin:deploys_deploytask_changelist")


@pytest.fixture
def root_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("root", superuser=True))
    return client


@pytest.fixture
def live_and_archived(db) -> tuple[Agent, Agent]:
    live = agent_create(display_name="Live Bot")
    archived = agent_create(display_name="Gone Bot")
    Agent.objects.filter(pk=archived.pk).update(status=Agent.Status.ARCHIVED)
    return live, archived


def listed(client: Client, query: str = "") -> set[str]:
    response = client.get(AGENTS + query)
    assert response.status_code == 200
    return {agent.name for agent in response.context["cl"].result_list}


def test_archived_agents_are_hidden_from_the_agent_list_by_default(root_client,
                                                                   live_and_archived):
    assert listed(root_client) == {"live-bot"}


def test_the_status_filter_shows_archived_agents_or_all(root_client, live_and_archived):
    assert listed(root_client, "?status=archived") == {"gone-bot"}
    assert listed(root_client, "?status=all") == {"live-bot", "gone-bot"}
    assert listed(root_client, "?status=registered") == {"live-bot"}
    text = root_client.get(AGENTS).content.decode()
    assert "Not archived" in text and "All, archived included" in text


def test_the_index_counts_link_into_the_filtered_lists(root_client, live_and_archived):
    text = root_client.get(reverse("admin:index")).content.decode()
    for status, count in (("registered", 1), ("archived", 1)):
        link = re.search(rf'<a href="([^"]+)"[^>]*>{status} <strong class="fleet-{status}">'
                         rf'{count}</strong></a>', text)
        assert link, f"no link for {status}"
        assert len(listed(root_client, link.group(1)[len(AGENTS):])) == count


def test_the_status_column_is_a_badge_with_colour_and_words(root_client, live_and_archived):
    text = root_client.get(AGENTS).content.decode()
    assert '<span class="taos-badge taos-status-registered">Registered</span>' in text


def test_the_stale_column_says_yes_or_no_without_red_crosses(root_client, no_backend):
    deploy_create(display_name="Skipped Bot", framework="f", model="m")
    text = root_client.get(DEPLOYS).content.decode()
    assert 'class="field-stale">no</td>' in text
    assert "icon-no.svg" not in text


def test_an_empty_agent_list_says_what_to_do_next(root_client):
    text = root_client.get(AGENTS).content.decode()
    assert "No agents yet." in text and "Deploy new agent" in text


def test_a_list_emptied_by_the_default_filter_offers_the_archived(root_client,
                                                                  live_and_archived):
    Agent.objects.update(status=Agent.Status.ARCHIVED)
    text = root_client.get(AGENTS).content.decode()
    assert "show all agents, archived included" in text


def test_every_admin_page_loads_the_consoles_stylesheet(root_client, live_and_archived):
    for url in (reverse("admin:index"), AGENTS, DEPLOYS,
                reverse("admin:agents_agent_change", args=[live_and_archived[0].pk])):
        text = root_client.get(url).content.decode()
        assert "admin/css/base.css" in text and "console/console.css" in text, url
