"""Every API route asks what its admin twin asks: walked from the URL resolver, as every role.

The expectations are tests/support/permission_table.py's one table, which
the admin walk (test_admin_permissions.py) reads too. A refused request
answers 403 and changes nothing.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib.auth.models import User
from drf_spectacular.generators import EndpointEnumerator
from rest_framework.test import APIClient

from access.permission_map import ACTS, user_may
from agents.models import Agent
from agents.services import agent_create
from api.error_codes import ErrorCode
from tests.support.api_routes import body_for, effect, snapshot
from tests.support.permission_table import (
    AGENT_ME,
    API_ROUTES,
    MAY,
    PUBLIC_ROUTES,
    ROLE_PERMS,
    ROLES,
    STAFF_ROLES,
    may,
)
from tokens.services import token_issue

pytestmark = pytest.mark.django_db


def resolver_routes() -> set[tuple[str, str]]:
    return {(method, path) for path, _, method, _ in EndpointEnumerator().get_api_endpoints()}


def test_the_table_names_every_route_the_resolver_serves():
    assert resolver_routes() == set(API_ROUTES) | PUBLIC_ROUTES


@pytest.fixture
def no_backend(settings) -> None:
    settings.DEPLOY_BACKEND = ""
    settings.DEPLOY_COMMAND = ""


@pytest.fixture
def callers(make_user) -> dict[str, APIClient]:
    clients = {}
    for role in ROLES:
        client = APIClient()
        if role == "agent":
            secret = token_issue(agent=agent_create(display_name="Caller Bot")).secret
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        else:
            user = make_user(role, superuser=role == "superuser", perms=ROLE_PERMS.get(role, ()))
            user.is_staff = role in STAFF_ROLES or role == "superuser"
            user.save()
            client.force_authenticate(user)
        clients[role] = client
    return clients


def subject_for(route: tuple[str, str], label: str) -> Agent:
    from deploys.services import deploy_existing

    agent = agent_create(display_name=f"Subject {label}")
    if route != ("POST", "/api/agents/{slug}/token/"):
        token_issue(agent=agent)
    if route in {("POST", "/api/agents/{slug}/deploy/retry/"),
                 ("GET", "/api/agents/{slug}/deploy-status/")}:
        deploy_existing(agent=agent)  # skipped without a backend: retryable
    return agent


@pytest.mark.parametrize("role", ROLES)
def test_every_api_route_answers_each_role_as_the_table_says(role, callers, no_backend):
    client = callers[role]
    for index, route in enumerate(sorted(API_ROUTES)):
        method, path = route
        act = API_ROUTES[route]
        subject = subject_for(route, f"{role} {index}")
        before = snapshot(subject)
        response = client.generic(
            method, path.replace("{slug}", subject.name),
            data=json.dumps(body_for(route)) if method != "GET" else "",
            content_type="application/json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
        said = (role, method, path, response.status_code, response.content[:200])
        if may(role, act):
            assert response.status_code < 400, said
            continue
        assert response.status_code == 403, said
        code = response.json()["code"]
        if act == AGENT_ME:
            assert code == ErrorCode.AGENT_TOKEN_REQUIRED, said
        elif role == "agent":
            assert code in {ErrorCode.AGENT_TOKEN_FORBIDDEN, ErrorCode.PERMISSION_DENIED}, said
        else:
            assert code == ErrorCode.PERMISSION_DENIED, said
        changed = effect(before, snapshot(subject))
        assert changed == {"counts": {label: 0 for label in changed["counts"]}, "subject": {},
                           "active_tokens": 0}, said


@pytest.mark.parametrize("role", [role for role in ROLES if role != "agent"])
def test_the_permission_map_grants_what_the_table_says(role, make_user):
    user = (User.objects.get(username=role) if User.objects.filter(username=role).exists()
            else make_user(role, superuser=role == "superuser", perms=ROLE_PERMS.get(role, ())))
    for act in ACTS:
        assert user_may(user, act) == may(role, act), (role, act)
    assert set(MAY) == set(ACTS) | {AGENT_ME}


def test_an_add_agent_user_cannot_deploy_and_so_rotate_someone_elses_token(make_user,
                                                                           no_backend):
    client = APIClient()
    client.force_authenticate(make_user("adder", perms=("agents.view_agent", "agents.add_agent")))
    victim = agent_create(display_name="Victim Bot")
    token = token_issue(agent=victim).token
    for path in ("/api/agents/victim-bot/deploy/", "/api/agents/victim-bot/deploy/retry/",
                 "/api/agents/deploy/"):
        response = client.post(path, {"display_name": "X", "framework": "f", "model": "m"},
                               format="json")
        assert response.status_code == 403, (path, response.content)
    token.refresh_from_db()
    assert token.revoked_at is None
    assert not victim.deploy_tasks.exists()
