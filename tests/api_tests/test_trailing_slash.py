"""Every API path answers the same with and without its trailing slash; nothing
in the site redirects an unsafe request to a GET."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from agents.models import Agent
from agents.services import agent_create
from tests.support import api_routes

pytestmark = pytest.mark.django_db


def schema_of(client: APIClient) -> dict:
    return client.get("/api/schema/?format=json").json()


@pytest.fixture
def admin_api(make_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(make_user("slash-admin", superuser=True))
    return client


def test_the_schema_documents_every_path_once_with_its_slash(admin_api):
    paths = list(schema_of(admin_api)["paths"])
    assert paths and all(path.endswith("/") for path in paths), paths
    assert len({path.rstrip("/") for path in paths}) == len(paths)


def send(client: APIClient, operation: tuple[str, str], path: str):
    method = getattr(client, operation[0].lower())
    return method(path, api_routes.body_for(operation), format="json", follow=True)


@pytest.mark.parametrize("operation", api_routes.schema_unsafe_operations(), ids="{0[0]} {0[1]}".format)
def test_unsafe_route_answers_the_same_without_its_slash(admin_api, operation):
    results = []
    for slash in (True, False):
        subject = api_routes.make_subject(operation, "slash" if slash else "bare")
        before = api_routes.snapshot(subject)
        response = send(admin_api, operation, api_routes.request_path(operation, subject,
                                                                     slash=slash))
        assert response.redirect_chain == [], response.redirect_chain
        assert response.status_code < 400, (slash, response.status_code, response.content)
        results.append((response.status_code,
                        api_routes.effect(before, api_routes.snapshot(subject))))
    assert results[0] == results[1]


def test_a_post_without_the_slash_creates_exactly_one_agent(admin_api):
    response = admin_api.post("/api/agents", {"display_name": "Null Bot", "emoji": None},
                              format="json")
    assert response.status_code == 201
    assert response["Location"] == "/api/agents/null-bot/"
    assert Agent.objects.get().display_name == "Null Bot"


@pytest.mark.parametrize("path", ["/api/schema", "/api/agents", "/api/agents/deploy"])
def test_safe_requests_without_the_slash_answer_too(admin_api, path):
    response = admin_api.get(path)
    assert response.status_code in (200, 405)  # deploy is POST only


def test_an_unknown_api_path_is_404_with_or_without_the_slash(admin_api):
    for path in ("/api/nothing-here", "/api/nothing-here/"):
        response = admin_api.post(path, {}, format="json")
        assert response.status_code == 404


def test_a_retry_without_the_slash_replays_the_same_idempotency_key(admin_api):
    key = {"HTTP_IDEMPOTENCY_KEY": "slash-retry-1"}
    body = {"display_name": "Keyed Bot"}
    first = admin_api.post("/api/agents/", body, format="json", **key)
    again = admin_api.post("/api/agents", body, format="json", **key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Agent.objects.count() == 1


# --- outside /api/: Django's redirects keep the method -----------------------------

@pytest.fixture
def admin_client_(client, make_user):
    client.force_login(make_user("admin", superuser=True))
    return client


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/admin/agents/agent/add", "/admin/password_change"])
def test_a_post_to_an_admin_path_without_its_slash_is_a_308(admin_client_, settings, debug,
                                                           path):
    settings.DEBUG = debug
    response = admin_client_.post(path, {"display_name": "Form Bot"})
    assert response.status_code == 308
    assert response["Location"] == f"{path}/"
    assert not Agent.objects.exists()


def test_a_get_to_an_admin_path_without_its_slash_stays_a_301(admin_client_):
    response = admin_client_.get("/admin/agents/agent/add")
    assert response.status_code == 301
    assert response["Location"] == "/admin/agents/agent/add/"


def test_a_post_to_a_non_admin_path_without_its_slash_is_a_308(client, settings):
    settings.DEBUG = True  # Django would raise RuntimeError here
    settings.ROOT_URLCONF = "tests.api_tests.slash_urls"
    response = client.post("/plain", {"a": "b"})
    assert response.status_code == 308
    assert response["Location"] == "/plain/"


def test_the_admins_own_redirect_after_a_post_is_untouched(client, make_user):
    make_user("admin", superuser=True)
    response = client.post("/admin/login/", {"username": "admin",
                                             "password": "correct-horse-battery"})
    assert response.status_code == 302


def test_the_https_redirect_of_an_unsafe_request_is_a_308(admin_api, settings):
    settings.SECURE_SSL_REDIRECT = True
    post = admin_api.post("/api/agents/", {"display_name": "Plain"}, format="json")
    assert post.status_code == 308
    assert post["Location"] == "https://testserver/api/agents/"
    assert admin_api.get("/api/agents/").status_code == 301
    assert not Agent.objects.exists()


def test_an_admin_action_redirect_to_the_same_page_stays_a_302(admin_client_):
    agent = agent_create(display_name="Research Bot")
    response = admin_client_.post("/admin/agents/agent/", {"action": "archive", "post": "yes",
                                                           "_selected_action": [agent.pk]})
    assert response.status_code == 302
    assert response["Location"] == "/admin/agents/agent/"
