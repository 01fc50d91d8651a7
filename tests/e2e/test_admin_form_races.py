"""Admin create forms submitted many times at once, through 4 real gunicorn workers.

One rendered form (one CSRF token, one form key) POSTed 16 times concurrently
with one session: one object and one admin LogEntry; every answer lands on
that object's page; a secret is shown exactly once. Runs on the suite's database (PostgreSQL or
the SQLite default).
"""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.urls import reverse

from agents.models import Agent
from agents.services import agent_create
from deploys.models import DeployTask
from tests.support.admin_pages import SECRET_RE
from tests.support.admin_session import admin_login, post_concurrently, rendered_form
from tests.support.deploy_command import DeployCommand
from tests.support.task_workers import TaskWorker
from tokens.models import AgentToken, OperatorToken

pytestmark = [pytest.mark.live]

RACERS = 16


@pytest.fixture
def session(gunicorn_server, make_user):
    make_user("root", superuser=True)
    client = admin_login(gunicorn_server.url, "root")
    yield client
    client.close()


def assert_all_land_on(responses, page: str, log: str) -> None:
    assert [r.status_code for r in responses] == [302] * len(responses), log
    assert {r.headers["Location"] for r in responses} == {page}


def test_16_concurrent_submits_of_one_add_agent_form_make_one_agent(session, gunicorn_server):
    path = reverse("admin:agents_agent_add")
    data = {**rendered_form(session, path), "display_name": "Double Click",
            "color": "#888888", "_save": "Save"}
    responses = post_concurrently(session, path, data, RACERS)
    agent = Agent.objects.get()
    assert agent.name == "double-click"
    assert_all_land_on(responses, reverse("admin:agents_agent_change", args=[agent.pk]),
                       gunicorn_server.log_tail())
    replayed = sorted(r.headers["Idempotent-Replayed"] for r in responses)
    assert replayed == ["false"] + ["true"] * (RACERS - 1)
    assert LogEntry.objects.get().object_id == str(agent.pk)


def secret_once(responses, page: str, log: str) -> str:
    shown = [r for r in responses if r.status_code == 200]
    assert len(shown) == 1, log
    [secret] = SECRET_RE.findall(shown[0].text)
    assert_all_land_on([r for r in responses if r is not shown[0]], page, log)
    assert all(secret not in r.text for r in responses if r is not shown[0])
    return secret


def test_16_concurrent_submits_of_one_token_form_issue_one_token(session, gunicorn_server):
    agent = agent_create(display_name="Token Bot")
    path = reverse("admin:tokens_agenttoken_add")
    data = {**rendered_form(session, path), "agent": agent.pk, "_save": "Save"}
    responses = post_concurrently(session, path, data, RACERS)
    token = AgentToken.objects.get()
    secret_once(responses, reverse("admin:tokens_agenttoken_change", args=[token.pk]),
                gunicorn_server.log_tail())
    assert LogEntry.objects.get().object_id == str(token.pk)


def test_16_concurrent_submits_of_one_operator_token_form_add_one_token(session,
                                                                       gunicorn_server):
    path = reverse("admin:tokens_operatortoken_add")
    user_id = User.objects.get(username="root").pk
    data = {**rendered_form(session, path), "user": user_id, "name": "script",
            "expires_at_0": "", "expires_at_1": "", "_save": "Save"}
    responses = post_concurrently(session, path, data, RACERS)
    token = OperatorToken.objects.get()
    secret_once(responses, reverse("admin:tokens_operatortoken_change", args=[token.pk]),
                gunicorn_server.log_tail())
    assert LogEntry.objects.get().object_id == str(token.pk)


def test_16_concurrent_submits_of_one_deploy_form_deploy_one_agent_once(
        gunicorn_factory, make_user, tmp_path):
    make_user("root", superuser=True)
    recorder = DeployCommand(tmp_path / "deploys.jsonl")
    env = {"DEPLOY_BACKEND": "command", "DEPLOY_COMMAND": recorder.command()}
    server = gunicorn_factory(workers=4, **env)
    session = admin_login(server.url, "root")
    path = reverse("admin:agents_agent_deploy_new")
    data = {**rendered_form(session, path), "display_name": "Deployed Bot",
            "framework": "smolagents", "model": "qwen2.5:7b", "color": "#888888"}
    responses = post_concurrently(session, path, data, RACERS)
    session.close()
    agent = Agent.objects.get()
    assert_all_land_on(responses, reverse("admin:agents_agent_change", args=[agent.pk]),
                       server.log_tail())
    assert LogEntry.objects.get().object_id == str(agent.pk)

    worker = TaskWorker(env=env, args=("--batch",), log_path=tmp_path / "worker.log").start()
    try:
        assert worker.wait(timeout=120) == 0, worker.log()
    finally:
        worker.stop()
    assert DeployTask.objects.get().state == "succeeded"
    assert AgentToken.objects.active().filter(agent=agent).count() == 1
    assert len(recorder.starts()) == 1  # the backend ran once
