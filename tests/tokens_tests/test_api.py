from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.support.http_auth import bearer
from tokens import crypto, services
from tokens.models import AgentToken

# Every POST under /api/ declares JSON, also without a body (cross-site forms cannot).
JSON = "application/json"

pytestmark = pytest.mark.django_db


def url(agent, rotate: bool = False) -> str:
    return f"/api/agents/{agent.name}/token/" + ("rotate/" if rotate else "")


def test_post_issues_201_with_the_secret_once_in_token(token_api, agent, token_admin):
    response = token_api.post(url(agent), content_type=JSON)
    assert response.status_code == 201
    body = response.json()
    secret = body["token"]
    assert crypto.parse(secret).kind is crypto.Kind.AGENT
    row = AgentToken.objects.get(agent=agent)
    assert body["prefix"] == row.prefix and body["agent"] == agent.name
    assert body["created_by"] == token_admin.username
    assert "digest" not in body
    assert row.digest == crypto.digest(secret)
    assert APIClient().get("/api/agent/me/", **bearer(secret)).status_code == 200


def test_secret_responses_are_not_cached_nor_replayable(token_api, agent):
    for response in (token_api.post(url(agent), content_type=JSON),
                     token_api.post(url(agent, rotate=True), content_type=JSON)):
        assert response.status_code in (200, 201)
        assert "no-store" in response["Cache-Control"]
        assert response.idempotency_replayable is False


def test_second_post_is_409_token_already_active(token_api, agent):
    token_api.post(url(agent), content_type=JSON)
    response = token_api.post(url(agent), content_type=JSON)
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "token_already_active"
    assert "token" not in response.json()
    assert AgentToken.objects.active().filter(agent=agent).count() == 1


def test_rotate_is_200_with_a_new_secret(token_api, agent, issued):
    response = token_api.post(url(agent, rotate=True), content_type=JSON)
    assert response.status_code == 200
    secret = response.json()["token"]
    assert secret != issued.secret
    assert APIClient().get("/api/agent/me/", **bearer(secret)).status_code == 200
    assert APIClient().get("/api/agent/me/", **bearer(issued.secret)).status_code == 401


def test_get_returns_metadata_never_secret_or_digest(token_api, agent, issued):
    response = token_api.get(url(agent))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "agent", "prefix", "created_at", "created_by", "expires_at",
                         "last_used_at"}
    assert issued.secret not in response.content.decode()
    assert issued.token.digest not in response.content.decode()


def test_get_without_active_token_is_404_token_not_found(token_api, agent):
    response = token_api.get(url(agent))
    assert response.status_code == 404
    assert response.json()["code"] == "token_not_found"


def test_delete_revokes_with_204_and_is_idempotent(token_api, agent, issued, token_admin):
    assert token_api.delete(url(agent), {"reason": "leaked"}, format="json").status_code == 204
    row = AgentToken.objects.get(pk=issued.token.pk)
    assert row.revoked_at is not None
    assert (row.revoked_by, row.revoke_reason) == (token_admin, "leaked")
    assert token_api.delete(url(agent)).status_code == 204


def test_delete_with_overlong_reason_is_400(token_api, agent, issued):
    response = token_api.delete(url(agent), {"reason": "x" * 256}, format="json")
    assert response.status_code == 400
    assert AgentToken.objects.get(pk=issued.token.pk).revoked_at is None


def test_unknown_agent_is_404(token_api, db):
    for method in ("get", "post", "delete"):
        response = getattr(token_api, method)("/api/agents/nobody/token/", content_type=JSON)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert token_api.post("/api/agents/nobody/token/rotate/", content_type=JSON).status_code == 404


def test_anonymous_is_401(anon, agent):
    for method, target in [("get", url(agent)), ("post", url(agent)),
                           ("delete", url(agent)), ("post", url(agent, rotate=True))]:
        assert getattr(anon, method)(target, content_type=JSON).status_code == 401


def test_posts_that_a_cross_site_form_could_send_are_refused(token_admin, agent):
    # A browser's session: its CSRF check is not skipped as the test client's is.
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(token_admin)
    for content_type in (None, "application/x-www-form-urlencoded", "multipart/form-data",
                         "text/plain"):
        for target in (url(agent), url(agent, rotate=True)):
            kwargs = {"content_type": content_type} if content_type else {}
            response = browser.post(target, **kwargs)
            assert response.status_code == 415, (content_type, target)
            assert response.json()["code"] == "unsupported_media_type"
    assert not AgentToken.objects.filter(agent=agent).exists()


@pytest.mark.parametrize("perms, method, rotate, allowed", [
    ((), "get", False, False),
    (("tokens.view_agenttoken",), "get", False, True),
    (("tokens.view_agenttoken",), "post", False, False),
    (("tokens.add_agenttoken",), "post", False, True),
    (("tokens.add_agenttoken",), "post", True, False),
    (("tokens.change_agenttoken",), "post", True, False),
    (("tokens.add_agenttoken", "tokens.change_agenttoken"), "post", True, True),
    (("tokens.add_agenttoken",), "delete", False, False),
    (("tokens.change_agenttoken",), "delete", False, True),
])
def test_operators_need_model_permissions(make_user, agent, perms, method, rotate, allowed):
    if method == "get":
        services.token_issue(agent=agent)
    client = APIClient()
    client.force_authenticate(make_user("someone", perms=perms))
    response = getattr(client, method)(url(agent, rotate=rotate), content_type=JSON)
    if allowed:
        assert response.status_code < 300
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


def test_agent_token_is_refused_with_its_own_code(agent, issued):
    response = APIClient().post(url(agent, rotate=True), content_type=JSON,
                                **bearer(issued.secret))
    assert response.status_code == 403
    assert response.json()["code"] == "agent_token_forbidden"


def test_operator_token_can_manage_agent_tokens(token_admin, make_operator_token, agent):
    operator_secret = make_operator_token(token_admin).secret
    response = APIClient().post(url(agent), content_type=JSON, **bearer(operator_secret))
    assert response.status_code == 201
    assert AgentToken.objects.get(agent=agent).created_by == token_admin


def test_schema_documents_the_token_endpoints(token_api, make_user):
    client = APIClient()
    client.force_authenticate(make_user("root", superuser=True))
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    text = response.content.decode()
    assert "/api/agents/{slug}/token/rotate/" in text
    assert "/api/agent/me/" in text
