from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from agents.models import Agent
from agents.services import agent_create
from tests.support.http_auth import PASSWORD, basic_auth

pytestmark = pytest.mark.django_db

URL = "/api/agents/"


def create(api: APIClient, **body):
    return api.post(URL, body, format="json")


# --- create ------------------------------------------------------------------

def test_create_returns_201_with_location_and_derived_slug(api):
    response = create(api, display_name="Research Bot", framework="smolagents")
    assert response.status_code == 201
    assert response["Location"] == "/api/agents/research-bot/"
    body = response.json()
    assert body["name"] == "research-bot"
    assert body["display_name"] == "Research Bot"
    assert body["status"] == "registered"
    assert body["color"] == "#888888"
    assert body["qmd_index"] == "research-bot"
    assert body["can_read_user_memory"] is False


def test_second_create_of_same_display_name_gets_suffix(api):
    assert create(api, display_name="Research Bot").json()["name"] == "research-bot"
    assert create(api, display_name="Research Bot").json()["name"] == "research-bot-2"
    assert create(api, display_name="research   bot!").json()["name"] == "research-bot-3"


def test_display_name_without_letter_or_digit_is_refused(api):
    response = create(api, display_name="!!!")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"]["display_name"][0]["code"] == "invalid_display_name"
    assert not Agent.objects.exists()


@pytest.mark.parametrize("display_name, code", [
    ("", "blank"),
    ("   ", "blank"),
    ("x" * 65, "max_length"),
    ("bad\x07name", "invalid_display_name"),
    ("invoice\u202egpj.exe", "invalid_display_name"),  # a bidi override (Cf)
    ("zero\u200bwidth", "invalid_display_name"),
])
def test_invalid_display_names_are_refused_with_codes(api, display_name, code):
    response = create(api, display_name=display_name)
    assert response.status_code == 400
    assert response.json()["errors"]["display_name"][0]["code"] == code


def test_display_name_is_trimmed(api):
    assert create(api, display_name="  Ana  ").json()["display_name"] == "Ana"


def test_name_only_body_reads_name_as_display_name(api):
    response = create(api, name="Mail Sorter")
    assert response.status_code == 201
    assert response.json()["display_name"] == "Mail Sorter"
    assert response.json()["name"] == "mail-sorter"


def test_name_is_not_writable_when_display_name_is_given(api):
    response = create(api, display_name="Alpha", name="custom-slug")
    assert response.json()["name"] == "alpha"


def test_unicode_display_name_gets_ascii_slug(api):
    assert create(api, display_name="Café Über").json()["name"] == "cafe-uber"
    assert create(api, display_name="机器人").json()["name"] == "agent"


def test_invalid_color_is_refused(api):
    response = create(api, display_name="Ana", color="red")
    assert response.status_code == 400
    assert response.json()["errors"]["color"][0]["code"] == "invalid_color"


def test_slug_suffixes_are_bounded(api, monkeypatch):
    monkeypatch.setattr("agents.naming.SLUG_MAX_SUFFIX", 3)
    for _ in range(3):
        assert create(api, display_name="Busy").status_code == 201
    response = create(api, display_name="Busy")
    assert response.status_code == 409
    assert response.json()["code"] == "agent_name_exhausted"


# --- list, retrieve, filters --------------------------------------------------

def test_list_is_paginated_with_count(api):
    for n in range(3):
        agent_create(display_name=f"Agent {n}")
    body = api.get(URL, {"page_size": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]


def test_list_filters_by_status(api):
    agent_create(display_name="Idle")
    agent_create(display_name="Busy", status=Agent.Status.RUNNING)
    names = [a["name"] for a in api.get(URL, {"status": "running"}).json()["results"]]
    assert names == ["busy"]


def test_unknown_status_filter_is_400(api):
    response = api.get(URL, {"status": "sleeping"})
    assert response.status_code == 400
    assert response.json()["errors"]["status"][0]["code"] == "invalid_choice"


def test_search_matches_name_and_display_name(api):
    agent_create(display_name="Research Bot")
    agent_create(display_name="Mail Sorter")
    names = [a["name"] for a in api.get(URL, {"search": "research"}).json()["results"]]
    assert names == ["research-bot"]
    names = [a["name"] for a in api.get(URL, {"search": "sort"}).json()["results"]]
    assert names == ["mail-sorter"]


def test_retrieve_by_slug(api):
    agent_create(display_name="Research Bot")
    response = api.get(f"{URL}research-bot/")
    assert response.status_code == 200
    assert response.json()["display_name"] == "Research Bot"


def test_retrieve_unknown_slug_is_404_problem(api):
    response = api.get(f"{URL}nobody/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


# --- update -------------------------------------------------------------------

def test_patch_changes_editable_fields_but_not_slug(api):
    agent_create(display_name="Research Bot")
    response = api.patch(f"{URL}research-bot/",
                         {"display_name": "Deep Research", "color": "#AABBCC", "name": "x"},
                         format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["display_name"] == "Deep Research"
    assert body["color"] == "#aabbcc"
    assert body["name"] == "research-bot"


def test_patch_cannot_set_status(api):
    agent_create(display_name="Research Bot")
    api.patch(f"{URL}research-bot/", {"status": "running"}, format="json")
    assert Agent.objects.get().status == Agent.Status.REGISTERED


def test_patch_with_invalid_display_name_is_400(api):
    agent_create(display_name="Research Bot")
    response = api.patch(f"{URL}research-bot/", {"display_name": "!!!"}, format="json")
    assert response.status_code == 400
    assert Agent.objects.get().display_name == "Research Bot"


def test_put_is_not_allowed(api):
    agent_create(display_name="Research Bot")
    response = api.put(f"{URL}research-bot/", {"display_name": "X"}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# --- archive ------------------------------------------------------------------

def test_delete_archives_and_hides_from_default_list(api):
    agent_create(display_name="Research Bot")
    assert api.delete(f"{URL}research-bot/").status_code == 204
    assert Agent.objects.get().status == Agent.Status.ARCHIVED
    assert api.get(URL).json()["count"] == 0
    archived = api.get(URL, {"status": "archived"}).json()["results"]
    assert [a["name"] for a in archived] == ["research-bot"]
    assert api.get(f"{URL}research-bot/").status_code == 200


def test_delete_twice_is_idempotent(api):
    agent_create(display_name="Research Bot")
    assert api.delete(f"{URL}research-bot/").status_code == 204
    assert api.delete(f"{URL}research-bot/").status_code == 204


# --- authentication and permissions -------------------------------------------

def test_anonymous_gets_401_with_a_bearer_challenge_never_basic(anon):
    response = anon.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] == "not_authenticated"


def test_http_basic_is_refused_unless_turned_on(anon, operator):
    response = anon.get(URL, HTTP_AUTHORIZATION=basic_auth("operator", PASSWORD))
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert "Basic" not in response["WWW-Authenticate"]


def test_wrong_password_is_401(anon, operator, settings):
    settings.TAOS_API_BASIC_AUTH = True
    response = anon.get(URL, HTTP_AUTHORIZATION=basic_auth("operator", "wrong"))
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_http_basic_works_for_scripts_when_turned_on(anon, operator, settings):
    settings.TAOS_API_BASIC_AUTH = True
    response = anon.get(URL, HTTP_AUTHORIZATION=basic_auth("operator", PASSWORD))
    assert response.status_code == 200


def test_user_without_permissions_gets_403(make_user):
    client = APIClient()
    client.force_authenticate(make_user("nobody"))
    assert client.get(URL).status_code == 403
    response = client.post(URL, {"display_name": "X"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Agent.objects.exists()


def test_view_permission_allows_reads_only(make_user):
    client = APIClient()
    client.force_authenticate(make_user("viewer", perms=("agents.view_agent",)))
    assert client.get(URL).status_code == 200
    assert client.post(URL, {"display_name": "X"}, format="json").status_code == 403


def test_session_auth_enforces_csrf(operator):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="operator", password=PASSWORD)
    response = client.post(URL, {"display_name": "X"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Agent.objects.exists()


# --- JSON errors --------------------------------------------------------------

def test_malformed_json_is_400_problem(api):
    response = api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_non_object_json_body_is_400(api):
    response = api.post(URL, "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["status"] == 400


def test_unsupported_media_type_is_415(api):
    response = api.post(URL, "display_name=X", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_body_too_large_is_413_problem(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = api.post(URL, json.dumps({"display_name": "x" * 200}),
                        content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not Agent.objects.exists()


def test_unknown_api_url_is_json_404(api):
    response = api.get("/api/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank", "title": "Not Found", "status": 404,
        "detail": "Not found.", "code": "not_found",
        "request_id": response["X-Request-ID"],
    }


def test_unhandled_error_under_api_is_json_500_without_traceback(api, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("secret internals SELECT * FROM x")

    monkeypatch.setattr("agents.services.agent_create", boom)
    api.raise_request_exception = False
    response = api.post(URL, {"display_name": "X"}, format="json")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "SELECT" not in response.content.decode()


def test_reserved_path_names_are_never_slugs(api):
    assert create(api, display_name="Deploy").json()["name"] == "deploy-2"
