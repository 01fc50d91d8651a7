from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tests.support.http_auth import bearer
from tokens import crypto
from tokens.models import AgentToken, OperatorToken

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_operator_token_prints_the_secret_alone_on_its_own_line(operator):
    out, err = run("create_operator_token", "operator", "--name", "backup script")
    lines = out.splitlines()
    assert len(lines) == 1
    secret = lines[0]
    assert crypto.parse(secret).kind is crypto.Kind.OPERATOR
    assert secret not in err and "shown only this once" in err
    row = OperatorToken.objects.get(user=operator)
    assert row.name == "backup script" and row.expires_at is None
    assert APIClient().get("/api/agents/", **bearer(secret)).status_code == 200


def test_create_operator_token_can_expire(operator):
    run("create_operator_token", "operator", "--name", "ci", "--expires-in-days", "7")
    assert OperatorToken.objects.get(user=operator).expires_at is not None


def test_create_operator_token_for_unknown_user_fails(db):
    with pytest.raises(CommandError, match="No user"):
        run("create_operator_token", "ghost", "--name", "x")


def test_create_operator_token_needs_a_name(operator):
    with pytest.raises(CommandError):
        run("create_operator_token", "operator")


def test_issue_agent_token_prints_the_secret_alone(agent):
    out, _ = run("issue_agent_token", agent.name)
    [secret] = out.splitlines()
    assert AgentToken.objects.get(agent=agent).digest == crypto.digest(secret)


def test_issue_agent_token_refuses_when_active_unless_rotate(agent, issued):
    with pytest.raises(CommandError, match="--rotate"):
        run("issue_agent_token", agent.name)
    out, _ = run("issue_agent_token", agent.name, "--rotate")
    [secret] = out.splitlines()
    assert AgentToken.objects.active().get(agent=agent).digest == crypto.digest(secret)


def test_issue_agent_token_for_unknown_agent_fails(db):
    with pytest.raises(CommandError, match="No agent"):
        run("issue_agent_token", "nobody")


def test_revoke_agent_token_is_idempotent(agent, issued):
    out, _ = run("revoke_agent_token", agent.name, "--reason", "decommissioned")
    assert "Revoked" in out
    assert AgentToken.objects.get(pk=issued.token.pk).revoke_reason == "decommissioned"
    out, _ = run("revoke_agent_token", agent.name)
    assert "nothing to do" in out
