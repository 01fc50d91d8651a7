"""Reads never write: every API GET and every admin list and change page makes no INSERT,
UPDATE or DELETE, apart from the token's last-used stamp (at most once a minute) and the
session framework's own writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from agents.services import agent_create
from deploys.models import DeployTask
from deploys.services import deploy_create
from idempotency.models import IdempotencyRecord
from tests.support.queries import SESSION_TABLE, writes
from tokens import services as token_services



def routes(resolvers: list, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            yield from routes(entry.url_patterns, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry


def api_get_urls(slug: str) -> list[str]:
    """Every API route that answers GET, made concrete (the schema and docs aside)."""
    urls = set()
    for route, pattern in routes(get_resolver().url_patterns):
        if not route.startswith("api/") or pattern.name in {"schema", "docs"}:
            continue
        view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
        actions = getattr(pattern.callback, "actions", None)
        if actions is not None and "get" not in actions:
            continue
        if view is not None and actions is None and not hasattr(view, "get"):
            continue
        url = re.sub(r"<(?:\w+:)?slug>|\(\?P<slug>[^)]*\)", slug, route)
        url = url.replace("^", "").replace("$", "").replace("\\.", ".")
        url = re.sub(r"\(\?P<format>[^)]*\)", "", url).replace("/?", "/")
        assert "<" not in url and "(" not in url, f"cannot fill in {route}"
        urls.add("/" + url)
    return sorted(urls)


@pytest.fixture
def world(db, make_user, settings, django_capture_on_commit_callbacks):
    """One of everything: agents (one deployed, its job queued, and stale), tokens, an
    idempotency record, a group."""
    settings.DEPLOY_STALE_SECONDS = 30
    settings.DEPLOY_BACKEND, settings.DEPLOY_COMMAND = "command", "true"
    superuser = make_user("root", superuser=True)
    agent = agent_create(display_name="Research Bot")
    issued = token_services.token_issue(agent=agent)
    with django_capture_on_commit_callbacks(execute=True):  # enqueues its job
        deployed = deploy_create(display_name="Deployed Bot", framework="f", model="m")
    long_ago = timezone.now() - timedelta(minutes=10)
    DeployTask.objects.filter(pk=deployed.pk).update(
        state="running", attempts=1, started_at=long_ago, heartbeat_at=long_ago)
    operator_token = token_services.operator_token_create(user=superuser, name="script")
    Group.objects.create(name="operators")
    IdempotencyRecord.objects.create(
        principal=f"user:{superuser.pk}", key="k1", method="POST", path="/api/agents/",
        fingerprint="f" * 64, response_status=201, response_body=b"{}",
        response_headers={}, expires_at=timezone.now() + timedelta(hours=1))
    return {"superuser": superuser, "agent": agent, "secret": issued.secret,
            "operator_secret": operator_token.secret, "stale_task": deployed}


def test_the_route_walk_finds_the_api_reads(world):
    urls = api_get_urls("research-bot")
    for expected in ("/api/agents/", "/api/agents/research-bot/",
                     "/api/agents/research-bot/deploy-status/",
                     "/api/agents/research-bot/token/", "/api/agent/me/"):
        assert expected in urls


def test_every_api_get_writes_nothing(world):
    client = APIClient()
    client.force_authenticate(world["superuser"])
    slug = world["stale_task"].agent.name
    for url in api_get_urls(slug):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code < 500, url
        assert writes(queries) == [], url
    # The stale deploy was reported, not marked.
    assert DeployTask.objects.get(pk=world["stale_task"].pk).state == "running"


@pytest.mark.parametrize("secret_key", ["secret", "operator_secret"])
def test_a_token_read_writes_only_the_last_used_stamp_once_a_minute(
    world, secret_key, django_capture_on_commit_callbacks
):
    client = APIClient()
    url = "/api/agent/me/" if secret_key == "secret" else "/api/agents/"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {world[secret_key]}"}
    for _ in range(2):
        # The stamp is written after commit: run those callbacks inside the capture.
        with CaptureQueriesContext(connection) as queries, \
                django_capture_on_commit_callbacks(execute=True):
            assert client.get(url, **auth).status_code == 200
        if _ == 0:
            [stamp] = writes(queries)
            assert stamp.lstrip().upper().startswith("UPDATE") and "last_used_at" in stamp
        else:
            assert writes(queries) == []


def admin_urls(world) -> list[str]:
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:app_list", args=[info[0]]))
        urls.append(reverse("admin:%s_%s_changelist" % info))
        obj = model._default_manager.first()
        assert obj is not None, f"the world holds no {model.__name__}: add one"
        urls.append(reverse("admin:%s_%s_change" % info, args=[obj.pk]))
    return sorted(set(urls))


def test_every_admin_list_and_change_page_writes_nothing(world, client):
    client.force_login(world["superuser"])
    for url in admin_urls(world):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        assert writes(queries) == [], url
    assert DeployTask.objects.get(pk=world["stale_task"].pk).state == "running"


def test_the_write_filter_keeps_writes_and_drops_the_sessions(world, client):
    with CaptureQueriesContext(connection) as queries:
        client.force_login(world["superuser"])  # writes a session row
        Group.objects.filter(name="operators").update(name="ops")
    assert any(SESSION_TABLE in q["sql"] for q in queries.captured_queries)
    kept = writes(queries)
    assert any(sql.startswith("UPDATE") and "auth_group" in sql for sql in kept)
    assert not any(SESSION_TABLE in sql for sql in kept)
