from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from agents.models import Agent
from agents.services import agent_create
from tokens import services

TOKEN_PERMS = (
    "tokens.view_agenttoken", "tokens.add_agenttoken", "tokens.change_agenttoken",
)


@pytest.fixture
def agent(db) -> Agent:
    return agent_create(display_name="Research Bot")


@pytest.fixture
def other_agent(db) -> Agent:
    return agent_create(display_name="Mail Sorter")


@pytest.fixture
def issued(agent) -> services.IssuedToken:
    return services.token_issue(agent=agent)


@pytest.fixture
def token_admin(make_user) -> User:
    """A user with every permission on agent tokens, not a superuser."""
    return make_user("tokenadmin", perms=TOKEN_PERMS)


@pytest.fixture
def token_api(token_admin) -> APIClient:
    client = APIClient()
    client.force_authenticate(token_admin)
    return client


@pytest.fixture
def make_operator_token(make_user) -> Callable[..., services.IssuedOperatorToken]:
    def make(user: User | None = None, *, name: str = "script",
             **kwargs) -> services.IssuedOperatorToken:
        return services.operator_token_create(user=user or make_user("scripter"),
                                              name=name, **kwargs)
    return make
