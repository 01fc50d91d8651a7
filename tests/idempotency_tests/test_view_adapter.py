"""`@idempotent` is the protocol's one entry: one call a request, its transaction closed inside it.

Also what that frame owns: the final response of a view that swallowed a
database error, a nested idempotent handler; and the middleware's one job,
keeping the body readable for the fingerprint when a parser streams it
before the view (a session's CSRF check parses it), and the body limit.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from agents.models import Agent
from idempotency import protocol
from idempotency.checks import MIDDLEWARE_PATH
from idempotency.models import IdempotencyRecord
from tests.support.http_auth import PASSWORD

CSRF_TOKEN = "a" * 32


def keyed_post(client: Client, url: str, body: dict, key: str = "k", **extra):
    return client.post(url, json.dumps(body), content_type="application/json",
                       HTTP_IDEMPOTENCY_KEY=key, **extra)


@pytest.fixture
def entries(monkeypatch) -> list[bool]:
    """Count calls into `protocol.run`; note whether a transaction was open when each returned."""
    calls: list[bool] = []
    real_run = protocol.run

    def run(call):
        try:
            return real_run(call)
        finally:
            calls.append(connection.in_atomic_block)

    monkeypatch.setattr(protocol, "run", run)
    return calls


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", ["first run", "replay"])
def test_a_keyed_request_enters_the_protocol_once_and_closes_its_transaction_there(
        api, entries, attempt):
    if attempt == "replay":
        keyed_post(api, "/api/agents/", {"display_name": "Walk Bot"})
        entries.clear()
    response = keyed_post(api, "/api/agents/", {"display_name": "Walk Bot"})
    assert response.status_code == 201
    assert response["Idempotent-Replayed"] == ("true" if attempt == "replay" else "false")
    assert entries == [False]  # one entry, and no transaction left open when it returned


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.idempotency_tests.urls")
def test_a_success_in_a_transaction_marked_for_rollback_is_a_500_and_keeps_nothing(api):
    response = keyed_post(api, "/api/swallowed-error/", {"display_name": "Bot"})
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "server_error"
    assert response["Idempotent-Replayed"] == "false"
    assert not Agent.objects.exists()
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
@pytest.mark.urls("tests.idempotency_tests.urls")
def test_a_nested_idempotent_handler_runs_under_the_outer_key(api):
    first = keyed_post(api, "/api/nested/", {"display_name": "Bot"})
    retry = keyed_post(api, "/api/nested/", {"display_name": "Bot"})
    assert (first.status_code, retry.status_code) == (201, 201)
    assert (first["Idempotent-Replayed"], retry["Idempotent-Replayed"]) == ("false", "true")
    assert retry.content == first.content
    assert Agent.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def session_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=user.username, password=PASSWORD)
    client.cookies["csrftoken"] = CSRF_TOKEN
    return client


@pytest.mark.django_db
def test_a_session_post_whose_csrf_check_parses_the_body_is_fingerprinted_and_replayed(
        make_user):
    # DRF's SessionAuthentication reads request.POST for its CSRF check, which
    # streams the body through the parser before the view runs.
    client = session_client(make_user("admin", superuser=True))
    first = keyed_post(client, "/api/agents/", {"display_name": "Bot"},
                       HTTP_X_CSRFTOKEN=CSRF_TOKEN)
    retry = keyed_post(client, "/api/agents/", {"display_name": "Bot"},
                       HTTP_X_CSRFTOKEN=CSRF_TOKEN)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry["Idempotent-Replayed"] == "true"
    assert Agent.objects.count() == 1


def multipart_post(client: Client, key: str = "k"):
    return client.post("/body/", {"name": "Bot"}, HTTP_IDEMPOTENCY_KEY=key,
                       HTTP_X_CSRFTOKEN=CSRF_TOKEN)


@pytest.mark.django_db
@pytest.mark.urls("tests.idempotency_tests.urls")
def test_a_body_a_parser_streams_before_the_view_is_still_fingerprinted(make_user):
    client = session_client(make_user("admin", superuser=True))
    first, retry = multipart_post(client), multipart_post(client)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert (first["Idempotent-Replayed"], retry["Idempotent-Replayed"]) == ("false", "true")


@pytest.mark.django_db
@pytest.mark.urls("tests.idempotency_tests.urls")
def test_without_the_middleware_a_streamed_body_is_gone_and_the_adapter_says_why(
        make_user, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    client = session_client(make_user("admin", superuser=True))
    with pytest.raises(ImproperlyConfigured, match=MIDDLEWARE_PATH):
        multipart_post(client)
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
@pytest.mark.urls("tests.idempotency_tests.urls")
def test_a_keyed_body_above_the_upload_limit_is_413(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 16
    response = keyed_post(APIClient(), "/body/", {"padding": "x" * 64})
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert response.json()["detail"] == "The request body is too large."
