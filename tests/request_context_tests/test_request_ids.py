"""One ID per request: validated or made, echoed in every response, held only while it runs."""

from __future__ import annotations

import re

import pytest

from request_context.ids import (
    bound_request_id,
    current_request_id,
    request_id_from,
    valid_request_id,
)
from tests.support.json_logs import json_log_lines

NEW_ID = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("value", [
    "a", "x" * 128, "abc-123_DEF.456", 'quote"and\\backslash', "!~{}[]<>", "0" * 32,
])
def test_a_valid_incoming_id_is_kept(value):
    assert valid_request_id(value) == value
    assert request_id_from(value) == value


@pytest.mark.parametrize("value", [
    None, "", "x" * 129, "with space", "tab\tinside", "line\nbreak", "bell\x07",
    "del\x7f", "caf\u00e9", "\u2603", "nul\x00",
])
def test_an_invalid_or_missing_id_is_replaced_by_a_new_one(value):
    assert valid_request_id(value) is None
    replaced = request_id_from(value)
    assert NEW_ID.fullmatch(replaced)
    assert request_id_from(value) != replaced  # a new one each time


def test_the_id_is_held_inside_the_block_only():
    assert current_request_id() is None
    with bound_request_id("outer"):
        with bound_request_id("inner"):
            assert current_request_id() == "inner"
        assert current_request_id() == "outer"
    assert current_request_id() is None


@pytest.mark.django_db
@pytest.mark.parametrize("path, status", [
    ("/api/agents/", 401),      # an API error (anonymous)
    ("/no-such-page/", 404),    # Django's 404, outside the API
    ("/api/no-such/", 404),     # the API's 404
    ("/admin/", 302),           # the admin's redirect to its login
    ("/admin/login/", 200),     # an admin page
    ("/healthz", 200),
])
def test_every_response_carries_the_request_id(client, path, status):
    response = client.get(path, HTTP_X_REQUEST_ID="client-id-1")
    assert response.status_code == status
    assert response["X-Request-ID"] == "client-id-1"
    generated = client.get(path)
    assert NEW_ID.fullmatch(generated["X-Request-ID"])
    assert current_request_id() is None  # cleared when the response left


@pytest.mark.django_db
def test_a_redirect_to_https_carries_it_too(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.post("/api/agents/", HTTP_X_REQUEST_ID="https-1")
    assert response.status_code == 308
    assert response["X-Request-ID"] == "https-1"


@pytest.mark.django_db
@pytest.mark.parametrize("sent", ["x" * 129, "has space", "caf\u00e9", "ctl\x1b[31m"])
def test_an_invalid_incoming_id_is_replaced_in_the_response(client, sent):
    response = client.get("/api/agents/", HTTP_X_REQUEST_ID=sent)
    assert NEW_ID.fullmatch(response["X-Request-ID"])


@pytest.mark.django_db
def test_a_problem_body_names_the_request_id(client):
    response = client.get("/api/agents/", HTTP_X_REQUEST_ID="problem-1")
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["request_id"] == "problem-1"
    unnamed = client.get("/api/no-such/")
    assert unnamed.json()["request_id"] == unnamed["X-Request-ID"]


@pytest.mark.django_db
def test_a_validation_error_body_names_it_too(api):
    response = api.post("/api/agents/", {"display_name": "!!!"}, format="json",
                        HTTP_X_REQUEST_ID="invalid-1")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["request_id"] == "invalid-1" == response["X-Request-ID"]


@pytest.mark.django_db
def test_every_line_logged_in_the_request_carries_its_id(client):
    with json_log_lines(loggers=("request_context.requests",)) as logs:
        client.get("/no-such-page/", HTTP_X_REQUEST_ID="logged-1")
    records = logs.records()
    by_logger = {r["logger"]: r for r in records}
    # Django's "Not Found" line (logged once the middleware returned) and the request's own.
    assert by_logger["django.request"]["request_id"] == "logged-1"
    line = by_logger["request_context.requests"]
    assert line["request_id"] == "logged-1"
    assert line["status"] == 404 and line["method"] == "GET" and line["route"] is None
    assert isinstance(line["duration"], float)
    assert all(r["request_id"] == "logged-1" for r in records)


@pytest.mark.django_db
def test_the_request_line_names_the_route_template_and_the_principal(api, operator):
    with json_log_lines(loggers=("request_context.requests",)) as logs:
        response = api.get("/api/agents/", HTTP_X_REQUEST_ID="route-1")
    assert response.status_code == 200
    [line] = [r for r in logs.records() if r["logger"] == "request_context.requests"]
    assert line["route"] == "/api/agents/"
    assert line["principal"] == f"user:{operator.pk}"
    assert line["status"] == 200


@pytest.mark.django_db
def test_an_anonymous_page_asks_nothing_for_the_principal(client, django_assert_num_queries):
    with (json_log_lines(loggers=("request_context.requests",)) as logs,
          django_assert_num_queries(0)):
        client.get("/no-such-page/")
    [line] = [r for r in logs.records() if r["logger"] == "request_context.requests"]
    assert line["principal"] is None
