"""URLs of the agent's admin page and of its token buttons."""

from __future__ import annotations

from django.urls import reverse

from agents.models import Agent


def page_of(agent: Agent) -> str:
    return reverse("admin:agents_agent_change", args=[agent.pk])


def token_url(agent: Agent, operation: str) -> str:
    return reverse("admin:agents_agent_token", args=[agent.pk, operation])
