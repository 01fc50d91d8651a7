from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory

from tests.support.http_auth import PASSWORD, basic_auth, bearer
from tokens import crypto, services
from tokens.authentication import (
    AgentPrincipal,
    AgentTokenAuthentication,
    OperatorTokenAuthentication,
)
from tokens.models import AgentToken, OperatorToken

pytestmark = pytest.mark.django_db

ME = "/api/agent/me/"


def me(secret: str, client: APIClient | None = None):
    return (client or APIClient()).get(ME, **bearer(secret))


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks of the block, as a committed request would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_agent_token_gets_its_own_agent(issued, agent):
    response = me(issued.secret)
    assert response.status_code == 200
    assert response.json()["name"] == agent.name
    assert response.json()["id"] == agent.pk


def test_agent_request_has_principal_with_agent_and_token_as_auth(issued, agent):
    request = APIRequestFactory().get(ME, HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    user, auth = AgentTokenAuthentication().authenticate(request)
    assert isinstance(user, AgentPrincipal)
    assert user.agent == agent
    assert user.is_authenticated and not user.has_perm("agents.view_agent")
    assert auth == issued.token


def test_authenticated_me_runs_exactly_one_query(issued, django_assert_num_queries, commit):
    with commit():
        me(issued.secret)  # the first use writes last_used_at
    with django_assert_num_queries(1), commit() as callbacks:
        assert me(issued.secret).status_code == 200
    assert callbacks == []


def test_first_use_costs_one_conditional_update(issued, commit):
    with CaptureQueriesContext(connection) as ctx, commit():
        assert me(issued.secret).status_code == 200
    sql = [q["sql"] for q in ctx.captured_queries]
    assert len(sql) == 2
    assert sql[1].startswith("UPDATE") and "last_used_at" in sql[1]
    assert AgentToken.objects.get(pk=issued.token.pk).last_used_at is not None


def test_last_used_is_written_again_only_after_a_minute(issued, commit):
    with commit():
        me(issued.secret)
    first = AgentToken.objects.get(pk=issued.token.pk).last_used_at
    assert first is not None
    with commit():
        me(issued.secret)
    assert AgentToken.objects.get(pk=issued.token.pk).last_used_at == first
    old = timezone.now() - timedelta(seconds=61)
    AgentToken.objects.filter(pk=issued.token.pk).update(last_used_at=old)
    with CaptureQueriesContext(connection) as ctx, commit():
        me(issued.secret)
    assert len(ctx.captured_queries) == 2
    assert AgentToken.objects.get(pk=issued.token.pk).last_used_at > old


def test_last_used_update_skips_a_row_another_worker_just_touched(issued, commit):
    # The UPDATE is conditional: a worker that read a stale row does not write.
    recent = timezone.now()
    token = AgentToken.objects.get(pk=issued.token.pk)  # read: last_used_at is NULL
    AgentToken.objects.filter(pk=token.pk).update(last_used_at=recent)
    from tokens.usage import token_mark_used
    with commit():
        token_mark_used(token=token, now=recent + timedelta(seconds=5))
    assert AgentToken.objects.get(pk=token.pk).last_used_at == recent


def test_last_used_is_written_after_the_request_transaction_commits(issued, commit):
    from tokens.usage import token_mark_used
    token = AgentToken.objects.get(pk=issued.token.pk)
    with CaptureQueriesContext(connection) as ctx:
        with commit() as callbacks:
            token_mark_used(token=token)
            assert not any(q["sql"].startswith("UPDATE") for q in ctx.captured_queries)
        assert len(callbacks) == 1
        assert ctx.captured_queries[-1]["sql"].startswith("UPDATE")
    assert AgentToken.objects.get(pk=token.pk).last_used_at is not None


@pytest.mark.parametrize("header, code", [
    ("Bearer", "token_missing"),
    ("Bearer ", "token_missing"),
    ("Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ", "token_prefix_invalid"),
    ("Bearer taos_tooshort", "token_malformed"),
    ("Bearer taos_" + "a" * 45 + "!", "token_malformed"),
    ("Bearer taos_abc def", "token_malformed"),
])
def test_malformed_tokens_get_401_with_code_and_no_query(header, code,
                                                          django_assert_num_queries, db):
    with django_assert_num_queries(0):
        response = APIClient().get(ME, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_bad_checksum_gets_401_with_no_query(issued, django_assert_num_queries):
    last = "0" if issued.secret[-1] != "0" else "1"
    with django_assert_num_queries(0):
        response = me(issued.secret[:-1] + last)
    assert response.status_code == 401
    assert response.json()["code"] == "token_checksum_invalid"


def test_malformed_bearer_never_falls_through_to_the_session(issued, operator):
    client = APIClient()
    client.login(username="operator", password=PASSWORD)
    response = client.get("/api/agents/", HTTP_AUTHORIZATION="Bearer nonsense")
    assert response.status_code == 401
    assert response.json()["code"] == "token_prefix_invalid"


def test_unknown_token_gets_401(db, agent):
    response = me(crypto.generate(crypto.Kind.AGENT).secret)
    assert response.status_code == 401
    assert response.json()["code"] == "token_unknown"


def test_known_prefix_with_wrong_secret_gets_401_unknown(issued):
    forged_head = issued.token.prefix + crypto.generate(crypto.Kind.AGENT).secret[13:-6]
    forged = forged_head + crypto.checksum(forged_head)
    response = me(forged)
    assert response.status_code == 401
    assert response.json()["code"] == "token_unknown"


def test_revoked_token_gets_401(issued, agent):
    services.token_revoke(agent=agent)
    response = me(issued.secret)
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_rotated_away_token_gets_401_and_new_one_works(issued, agent):
    rotated = services.token_rotate(agent=agent)
    assert me(issued.secret).json()["code"] == "token_revoked"
    assert me(rotated.secret).status_code == 200


def test_expired_token_gets_401(issued):
    AgentToken.objects.filter(pk=issued.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    response = me(issued.secret)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_token_with_other_pepper_is_unknown(issued, settings):
    settings.TOKENS_PEPPER = "rotated-pepper"
    assert me(issued.secret).json()["code"] == "token_unknown"


def test_anonymous_challenge_names_bearer_only(db, settings):
    settings.TAOS_API_BASIC_AUTH = True  # also with Basic on: a browser must never cache a password
    response = APIClient().get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


# --- agents reach only their own agent ---------------------------------------

def test_agent_token_cannot_use_operator_endpoints(issued, agent, other_agent):
    client = APIClient()
    for method, url in [
        ("get", "/api/agents/"),
        ("get", f"/api/agents/{agent.name}/"),
        ("get", f"/api/agents/{other_agent.name}/"),
        ("post", "/api/agents/"),
        ("get", f"/api/agents/{agent.name}/token/"),
        ("post", f"/api/agents/{agent.name}/token/rotate/"),
        ("delete", f"/api/agents/{other_agent.name}/token/"),
        ("post", f"/api/agents/{other_agent.name}/token/"),
    ]:
        response = getattr(client, method)(url, content_type="application/json",
                                           **bearer(issued.secret))
        assert response.status_code == 403, (method, url)
    assert AgentToken.objects.active().filter(agent=other_agent).count() == 0
    assert AgentToken.objects.active().get(agent=agent) == issued.token


def test_me_refuses_operators(operator):
    client = APIClient()
    client.force_authenticate(operator)
    response = client.get(ME)
    assert response.status_code == 403
    assert response.json()["code"] == "agent_token_required"


# --- operator tokens ------------------------------------------------------------

def test_operator_token_authenticates_as_its_user(operator, make_operator_token):
    issued = make_operator_token(operator)
    request = APIRequestFactory().get("/api/agents/",
                                      HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    user, auth = OperatorTokenAuthentication().authenticate(request)
    assert user == operator
    assert auth == issued.token
    assert AgentTokenAuthentication().authenticate(request) is None


def test_operator_token_gets_the_users_permissions(operator, make_user, make_operator_token):
    allowed = make_operator_token(operator)
    assert APIClient().get("/api/agents/", **bearer(allowed.secret)).status_code == 200
    nobody = make_operator_token(make_user("nobody"))
    assert APIClient().get("/api/agents/", **bearer(nobody.secret)).status_code == 403


def test_operator_token_costs_one_query_to_authenticate(operator, make_operator_token, commit):
    issued = make_operator_token(operator)
    with commit():
        APIClient().get(ME, **bearer(issued.secret))  # writes last_used_at
    with CaptureQueriesContext(connection) as ctx:
        response = APIClient().get(ME, **bearer(issued.secret))
    assert response.status_code == 403  # authenticated, but not an agent
    assert len(ctx.captured_queries) == 1
    assert OperatorToken.objects.get(pk=issued.token.pk).last_used_at is not None


@pytest.mark.parametrize("change, code", [
    ("revoke", "token_revoked"),
    ("expire", "token_expired"),
    ("deactivate", "user_inactive"),
])
def test_unusable_operator_tokens_get_401(operator, make_operator_token, change, code):
    issued = make_operator_token(operator)
    if change == "revoke":
        services.operator_token_revoke(token=issued.token)
    elif change == "expire":
        OperatorToken.objects.filter(pk=issued.token.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1))
    else:
        operator.is_active = False
        operator.save()
    response = APIClient().get("/api/agents/", **bearer(issued.secret))
    assert response.status_code == 401
    assert response.json()["code"] == code


def test_http_basic_still_works_after_the_bearer_classes(operator, settings):
    settings.TAOS_API_BASIC_AUTH = True
    response = APIClient().get("/api/agents/", HTTP_AUTHORIZATION=basic_auth("operator"))
    assert response.status_code == 200
