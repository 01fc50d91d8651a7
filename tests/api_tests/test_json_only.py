"""The JSON-only rule holds where a browser could attach the credentials by itself.

Basic (a browser caches it) and a session cookie without a CSRF token must
send `application/json`, also without a body (415 otherwise); a Bearer token
and a request that passes Django's CSRF check may POST without one, as
clients generated from the schema and /api/docs/ do.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from agents.services import agent_create
from api.error_codes import ErrorCode
from tests.support.http_auth import basic_auth
from tokens.services import operator_token_create, token_issue

pytestmark = pytest.mark.django_db

CSRF = "k" * 32
ROTATE = "/api/agents/target-bot/token/rotate/"


@pytest.fixture
def root(make_user):
    agent = agent_create(display_name="Target Bot")
    token_issue(agent=agent)
    return make_user("root", superuser=True)


def browser_like() -> APIClient:
    return APIClient(enforce_csrf_checks=True)  # as a browser's request: CSRF is checked


def assert_415(response) -> None:
    assert response.status_code == 415, response.content[:300]
    assert response.json()["code"] == ErrorCode.UNSUPPORTED_MEDIA_TYPE


def test_a_bearer_token_may_post_without_a_body_or_content_type(root):
    secret = operator_token_create(user=root, name="script").secret
    response = browser_like().generic("POST", ROTATE, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200, response.content[:300]


def test_a_bearer_token_still_cannot_send_a_form_body(root):
    secret = operator_token_create(user=root, name="script").secret
    response = browser_like().generic("POST", "/api/agents/", "display_name=X",
                                      content_type="application/x-www-form-urlencoded",
                                      HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert_415(response)  # DRF's parsers read JSON only


def test_basic_credentials_must_declare_json_even_without_a_body(root, settings):
    settings.TAOS_API_BASIC_AUTH = True
    assert_415(browser_like().generic("POST", ROTATE, HTTP_AUTHORIZATION=basic_auth("root")))


def test_a_session_without_its_csrf_token_must_declare_json(root):
    client = browser_like()
    client.force_login(root)
    assert_415(client.generic("POST", ROTATE))
    assert_415(client.generic("POST", ROTATE, "x=1",
                              content_type="application/x-www-form-urlencoded"))


def test_a_session_with_its_csrf_token_may_post_without_a_body(root):
    client = browser_like()
    client.force_login(root)
    client.cookies["csrftoken"] = CSRF
    response = client.generic("POST", ROTATE, HTTP_X_CSRFTOKEN=CSRF)
    assert response.status_code == 200, response.content[:300]


def test_a_csrf_token_sent_from_another_origin_does_not_lift_the_rule(root):
    client = browser_like()
    client.force_login(root)
    client.cookies["csrftoken"] = CSRF
    assert_415(client.generic("POST", ROTATE, HTTP_X_CSRFTOKEN=CSRF,
                              HTTP_ORIGIN="http://evil.example"))


def test_a_form_body_is_refused_even_with_a_csrf_token(root):
    client = browser_like()
    client.force_login(root)
    client.cookies["csrftoken"] = CSRF
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        assert_415(client.generic("POST", ROTATE, f"csrfmiddlewaretoken={CSRF}",
                                  content_type=content_type, HTTP_X_CSRFTOKEN=CSRF))
