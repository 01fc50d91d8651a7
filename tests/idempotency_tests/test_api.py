"""The behaviour table of docs/idempotency.md ("For API users"), through POST /api/agents/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import Agent
from idempotency.models import IdempotencyRecord
from tests.support.http_auth import PASSWORD, basic_auth

pytestmark = pytest.mark.django_db

URL = "/api/agents/"


def post(client: APIClient, body: dict, key: str | None = "key-1", **extra):
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(URL, body, format="json", **extra)


def touched_table(queries: CaptureQueriesContext) -> bool:
    return any(IdempotencyRecord._meta.db_table in q["sql"] for q in queries.captured_queries)


# --- first execution and replay ----------------------------------------------

def test_first_request_with_key_runs_and_says_not_replayed(api):
    response = post(api, {"display_name": "Research Bot"})
    assert response.status_code == 201
    assert response["Idempotent-Replayed"] == "false"
    assert Agent.objects.count() == 1


def test_first_request_stores_status_body_and_replayable_headers(api):
    response = post(api, {"display_name": "Research Bot"})
    record = IdempotencyRecord.objects.get()
    assert record.principal.startswith("user:")
    assert record.key == "key-1"
    assert (record.method, record.path) == ("POST", URL)
    assert record.response_status == 201
    assert bytes(record.response_body) == response.content
    assert record.response_headers == {
        "Content-Type": "application/json", "Location": "/api/agents/research-bot/",
    }
    assert len(record.fingerprint) == 64
    assert b"Research Bot" not in record.fingerprint.encode()


def test_retry_replays_stored_response_without_running_the_view(api):
    first = post(api, {"display_name": "Research Bot"})
    retry = post(api, {"display_name": "Research Bot"})
    assert retry.status_code == 201
    assert retry.content == first.content
    assert retry["Location"] == first["Location"]
    assert retry["Content-Type"] == first["Content-Type"]
    assert retry["Idempotent-Replayed"] == "true"
    assert Agent.objects.count() == 1


def test_replay_ignores_key_order_and_whitespace_of_the_json_body(api):
    post(api, {"display_name": "Research Bot", "framework": "smolagents"})
    retry = api.post(URL, '{ "framework" : "smolagents",\n "display_name": "Research Bot" }',
                     content_type="application/json", HTTP_IDEMPOTENCY_KEY="key-1")
    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert Agent.objects.count() == 1


def test_quoted_key_is_the_same_key(api):
    post(api, {"display_name": "Research Bot"}, key="abc")
    retry = post(api, {"display_name": "Research Bot"}, key='"abc"')
    assert retry["Idempotent-Replayed"] == "true"
    assert Agent.objects.count() == 1


def test_request_without_key_runs_normally_without_replay_header(api):
    first = post(api, {"display_name": "Research Bot"}, key=None)
    second = post(api, {"display_name": "Research Bot"}, key=None)
    assert (first.status_code, second.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in first
    assert Agent.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_required_setting_refuses_request_without_key(api, settings):
    settings.IDEMPOTENCY_REQUIRED = True
    response = post(api, {"display_name": "Research Bot"}, key=None)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert not Agent.objects.exists()


def test_required_setting_accepts_request_with_key(api, settings):
    settings.IDEMPOTENCY_REQUIRED = True
    assert post(api, {"display_name": "Research Bot"}).status_code == 201


def test_key_on_endpoint_that_did_not_opt_in_is_ignored(api):
    post(api, {"display_name": "Research Bot"}, key=None)
    response = api.patch(f"{URL}research-bot/", {"color": "#aabbcc"}, format="json",
                         HTTP_IDEMPOTENCY_KEY="key-1")
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert not IdempotencyRecord.objects.exists()


# --- different payload, different principal ---------------------------------

def test_same_key_with_different_body_is_422_and_runs_nothing(api):
    post(api, {"display_name": "Research Bot"})
    response = post(api, {"display_name": "Other Bot"})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_reused"
    assert list(Agent.objects.values_list("name", flat=True)) == ["research-bot"]


def test_same_key_with_different_query_string_is_422(api):
    post(api, {"display_name": "Research Bot"})
    response = api.post(f"{URL}?x=1", {"display_name": "Research Bot"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="key-1")
    assert response.status_code == 422
    assert Agent.objects.count() == 1


def test_same_key_from_two_users_is_two_independent_keys(api, make_user):
    other = APIClient()
    other.force_authenticate(make_user("other", superuser=True))
    mine = post(api, {"display_name": "Research Bot"})
    theirs = post(other, {"display_name": "Research Bot"})
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert theirs["Idempotent-Replayed"] == "false"
    assert mine.json()["name"] == "research-bot"
    assert theirs.json()["name"] == "research-bot-2"
    assert Agent.objects.count() == 2
    assert post(other, {"display_name": "Research Bot"}).json()["name"] == "research-bot-2"


# --- malformed keys ----------------------------------------------------------

@pytest.mark.parametrize("key", [
    "", "   ", "x" * 256, "abc\x01def", "abc\x7fdef", "tab\tinside", "caf\xe9", '""',
    '"has space"',
])
def test_malformed_key_is_400_and_runs_nothing(api, key):
    response = post(api, {"display_name": "Research Bot"}, key=key)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
    assert not Agent.objects.exists()
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("key", ["x" * 255, "a", "~!@#$%^&*()_+{}|:<>?", '"q\\"x"', 'a"b'])
def test_well_formed_keys_are_accepted(api, key):
    assert post(api, {"display_name": "Research Bot"}, key=key).status_code == 201


# --- authentication and permission never touch the table ----------------------

def test_wrong_password_then_right_password_with_same_key_is_401_then_201(operator, settings):
    settings.TAOS_API_BASIC_AUTH = True
    client = APIClient()
    with CaptureQueriesContext(connection) as queries:
        denied = post(client, {"display_name": "Research Bot"},
                      HTTP_AUTHORIZATION=basic_auth("operator", "wrong"))
    assert denied.status_code == 401
    assert not touched_table(queries)
    allowed = post(client, {"display_name": "Research Bot"},
                   HTTP_AUTHORIZATION=basic_auth("operator", PASSWORD))
    assert allowed.status_code == 201
    assert allowed["Idempotent-Replayed"] == "false"


def test_permission_denied_does_not_touch_the_table(make_user):
    client = APIClient()
    client.force_authenticate(make_user("nobody"))
    with CaptureQueriesContext(connection) as queries:
        response = post(client, {"display_name": "Research Bot"})
    assert response.status_code == 403
    assert not touched_table(queries)
    assert not IdempotencyRecord.objects.exists()


# --- failures are not stored --------------------------------------------------

def test_400_from_view_is_not_stored_and_corrected_retry_gives_201(api):
    invalid = post(api, {"display_name": "!!!"})
    assert invalid.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    corrected = post(api, {"display_name": "Research Bot"})
    assert corrected.status_code == 201
    assert corrected["Idempotent-Replayed"] == "false"


def test_409_from_view_rolls_back_and_is_not_stored(api, monkeypatch):
    monkeypatch.setattr("agents.naming.SLUG_MAX_SUFFIX", 1)
    post(api, {"display_name": "Busy"}, key=None)
    response = post(api, {"display_name": "Busy"})
    assert response.status_code == 409
    assert not IdempotencyRecord.objects.exists()


def test_exception_in_view_rolls_back_its_effects_and_stores_nothing(api, monkeypatch):
    from agents import services as agent_services

    real_create = agent_services.agent_create

    def create_then_fail(**kwargs):
        real_create(**kwargs)
        raise RuntimeError("boom")

    monkeypatch.setattr("agents.services.agent_create", create_then_fail)
    api.raise_request_exception = False
    response = post(api, {"display_name": "Research Bot"})
    assert response.status_code == 500
    assert not Agent.objects.exists()
    assert not IdempotencyRecord.objects.exists()


# --- retention ------------------------------------------------------------------

def test_expired_key_is_treated_as_new(api):
    post(api, {"display_name": "Research Bot"})
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = post(api, {"display_name": "Research Bot"})
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "false"
    assert again.json()["name"] == "research-bot-2"
    assert IdempotencyRecord.objects.get().expires_at > timezone.now()


def test_record_expires_after_ttl(api, settings):
    settings.IDEMPOTENCY_TTL_SECONDS = 60
    before = timezone.now()
    post(api, {"display_name": "Research Bot"})
    record = IdempotencyRecord.objects.get()
    ttl = timedelta(seconds=60)
    assert before + ttl <= record.expires_at <= timezone.now() + ttl


# --- the test-only delay ----------------------------------------------------------

def test_delay_header_is_ignored_by_the_production_urls(api, settings):
    import time

    assert settings.ROOT_URLCONF == "tinyagentos_site.urls"
    started = time.monotonic()
    response = post(api, {"display_name": "Research Bot"}, HTTP_X_TEST_DELAY="5")
    assert response.status_code == 201
    assert time.monotonic() - started < 2


def test_agent_token_principal_is_the_agent():
    from rest_framework.test import APIRequestFactory

    from agents.services import agent_create
    from access.principals import principal_for
    from tokens.authentication import AgentPrincipal

    agent = agent_create(display_name="Keyed")
    request = APIRequestFactory().post("/")
    request.user = AgentPrincipal(agent)
    assert principal_for(request) == f"agent:{agent.pk}"


def test_body_with_a_lone_surrogate_is_fingerprinted_not_a_500(operator):
    client = APIClient()
    client.force_authenticate(operator)
    body = '{"display_name": "Bad \\ud800 name"}'
    response = client.post("/api/agents/", body, content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY="lone-surrogate")
    assert response.status_code < 500


def test_keys_differing_only_in_case_are_two_keys(api):
    # MariaDB's default collation would make them one (idempotency migration 0002).
    first = post(api, {"display_name": "Research Bot"}, key="Key-A")
    second = post(api, {"display_name": "Mail Sorter"}, key="key-a")
    third = post(api, {"display_name": "Mail Sorter"}, key="KEY-A")
    assert [r.status_code for r in (first, second, third)] == [201, 201, 201]
    assert [r["Idempotent-Replayed"] for r in (first, second, third)] == ["false"] * 3
    assert Agent.objects.count() == 3
