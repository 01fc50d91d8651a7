"""A user's permissions: ModelBackend's answer, read in one query, never stale across requests."""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from access.password_backend import LockoutModelBackend
from tokens.services import operator_token_create

pytestmark = pytest.mark.django_db

AGENTS = "/api/agents/"


def permission(name: str) -> Permission:
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@pytest.fixture
def user_with_own_and_group_perms(make_user) -> User:
    user = make_user("operator", perms=("agents.view_agent",))
    group = Group.objects.create(name="creators")
    group.permissions.add(permission("agents.add_agent"), permission("deploys.view_deploytask"))
    user.groups.add(group)
    return user


def test_own_and_group_permissions_are_read_in_one_query(user_with_own_and_group_perms):
    user = User.objects.get(pk=user_with_own_and_group_perms.pk)
    with CaptureQueriesContext(connection) as queries:
        assert user.has_perms(["agents.view_agent", "agents.add_agent"])
        assert user.has_perm("deploys.view_deploytask")
        assert not user.has_perm("agents.delete_agent")
    assert len(queries.captured_queries) == 1


@pytest.mark.parametrize("kind", ["plain", "group member", "superuser", "inactive"])
def test_permissions_are_model_backends(kind, make_user, user_with_own_and_group_perms):
    user = {
        "plain": lambda: make_user("plain", perms=("agents.change_agent",)),
        "group member": lambda: user_with_own_and_group_perms,
        "superuser": lambda: make_user("root", superuser=True),
        "inactive": lambda: User.objects.filter(pk=user_with_own_and_group_perms.pk).update(
            is_active=False) and user_with_own_and_group_perms,
    }[kind]()
    ours = LockoutModelBackend().get_all_permissions(User.objects.get(pk=user.pk))
    django = ModelBackend().get_all_permissions(User.objects.get(pk=user.pk))
    assert ours == django
    assert (len(ours) > 0) == (kind != "inactive")


def test_a_removed_permission_counts_at_the_next_request(make_user, operator):
    secret = operator_token_create(user=operator, name="perm test").secret
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get(AGENTS).status_code == 200
    # Reading asks view or change (access/permission_map.py): both go.
    operator.user_permissions.remove(permission("agents.view_agent"),
                                     permission("agents.change_agent"))
    assert client.get(AGENTS).status_code == 403


def test_an_api_call_checks_permissions_with_one_query(operator):
    secret = operator_token_create(user=operator, name="perm test").secret
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.get(AGENTS)  # the token's first use stamps it (at most once a minute)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(AGENTS).status_code == 200
    on_permissions = [q["sql"] for q in queries.captured_queries
                      if "auth_permission" in q["sql"]]
    assert len(on_permissions) == 1, "\n".join(q["sql"] for q in queries.captured_queries)
