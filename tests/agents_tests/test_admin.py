from __future__ import annotations

import pytest

from agents.models import Agent
from agents.services import agent_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, make_user):
    client.force_login(make_user("root", superuser=True))
    return client


def test_agent_changelist_lists_filters_and_searches(staff_client):
    agent_create(display_name="Research Bot", framework="smolagents", host="pi-1")
    agent_create(display_name="Mail Sorter", framework="langgraph")
    response = staff_client.get("/admin/agents/agent/", {"q": "research"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "research-bot" in content
    assert "mail-sorter" not in content
    response = staff_client.get("/admin/agents/agent/", {"framework": "langgraph"})
    assert "mail-sorter" in response.content.decode()


def test_admin_add_derives_the_slug_through_the_service(staff_client):
    agent_create(display_name="Research Bot")
    response = staff_client.post("/admin/agents/agent/add/", {
        "display_name": "Research Bot", "color": "#123456", "host": "", "qmd_index": "",
        "emoji": "", "framework": "", "model": "",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Agent.objects.filter(name="research-bot-2").exists()


def test_admin_refuses_an_invalid_display_name_without_error(staff_client):
    response = staff_client.post("/admin/agents/agent/add/", {
        "display_name": "!!!", "color": "#123456",
    })
    assert response.status_code == 200
    assert "must contain a letter or a digit" in response.content.decode()
    assert not Agent.objects.exists()


def test_admin_refuses_a_display_name_with_a_bidi_control(staff_client):
    response = staff_client.post("/admin/agents/agent/add/", {
        "display_name": "invoice\u202egpj.exe", "color": "#123456",
    })
    assert response.status_code == 200
    assert "may not contain control or format characters" in response.content.decode()
    assert not Agent.objects.exists()


def test_admin_archive_action_calls_the_service(staff_client):
    agent = agent_create(display_name="Research Bot")
    response = staff_client.post("/admin/agents/agent/", {
        "action": "archive", "_selected_action": [agent.pk], "post": "yes",
    })
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.status == Agent.Status.ARCHIVED


def test_admin_timestamps_and_slug_are_read_only(staff_client):
    agent = agent_create(display_name="Research Bot")
    response = staff_client.get(f"/admin/agents/agent/{agent.pk}/change/")
    content = response.content.decode()
    assert 'name="created_at"' not in content
    assert 'name="name"' not in content
    assert 'name="display_name"' in content
