"""The JSON parser refuses what Python's json would turn into a 500 or a silent choice."""

from __future__ import annotations

import pytest

from api.parsers import MAX_DEPTH

URL = "/api/agents/"


def post(api, body: bytes):
    return api.generic("POST", URL, body, content_type="application/json")


@pytest.mark.parametrize(("body", "says"), [
    (b'{"display_name": "a", "display_name": "b"}', "appears twice"),
    (b'{"display_name": 1e999}', "out of range"),
    (b'{"display_name": -1e999}', "out of range"),
    (b'{"display_name": NaN}', "JSON parse error"),
    (b"[" * 100_000 + b"]" * 100_000, f"nested deeper than {MAX_DEPTH}"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH}"),
    (b'{"display_name": ' + b"9" * 5000 + b"}", "JSON parse error"),
    (b'{"display_name": "\xff"}', "JSON parse error"),
])
def test_bodies_python_would_mishandle_are_400_parse_error(api, body, says):
    response = post(api, body)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert says in response.json()["detail"]


def test_nesting_up_to_the_limit_is_parsed(api):
    value = b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1)
    response = post(api, b'{"display_name": "Deep", "extra": ' + value + b"}")
    assert response.status_code == 201


def test_a_session_cookie_the_site_cannot_have_made_is_anonymous(client, db):
    client.cookies["sessionid"] = "abcdefgh\x00ijklmnop"
    response = client.get("/admin/")
    assert response.status_code == 302  # to the login page, not a 500


def test_a_basic_user_name_with_nul_is_a_failure_not_a_500(anon, operator, settings):
    import base64

    settings.TAOS_API_BASIC_AUTH = True
    header = "Basic " + base64.b64encode(b"oper\x00ator:correct-horse-battery").decode()
    response = anon.get(URL, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_an_accept_header_without_json_is_406_not_acceptable(api):
    response = api.get(URL, HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response.json()["code"] == "not_acceptable"
