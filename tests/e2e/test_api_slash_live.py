"""Under gunicorn, through clients that follow redirects (httpx, urllib), every
unsafe API route answers the same with and without its trailing slash."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import httpx
import pytest

from tests.support import api_routes
from tests.support.http_auth import basic_auth

pytestmark = [pytest.mark.live]

OPERATIONS = api_routes.schema_unsafe_operations()


def via_httpx(method: str, url: str, body: dict, headers: dict) -> int:
    response = httpx.request(method, url, json=body, headers=headers, follow_redirects=True,
                             timeout=30)
    assert response.history == [], [r.status_code for r in response.history]
    return response.status_code


def via_urllib(method: str, url: str, body: dict, headers: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                     headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.geturl() == url  # no redirect followed
            return response.status
    except urllib.error.HTTPError as error:
        assert error.code not in (301, 302, 303, 307, 308), error.code
        return error.code


def test_every_unsafe_route_answers_the_same_with_and_without_its_slash(gunicorn_factory,
                                                                          make_user):
    assert ("POST", "/api/agents/") in OPERATIONS and len(OPERATIONS) >= 7
    make_user("admin", superuser=True)
    server = gunicorn_factory(workers=2)
    headers = {"Authorization": basic_auth("admin")}
    differences = []
    for operation in OPERATIONS:
        answers = {}
        for client in (via_httpx, via_urllib):
            for slash in (True, False):
                label = f"{client.__name__}-{'slash' if slash else 'bare'}"
                subject = api_routes.make_subject(operation, label)
                before = api_routes.snapshot(subject)
                url = server.url + api_routes.request_path(operation, subject, slash=slash)
                status = client(operation[0], url, api_routes.body_for(operation), headers)
                answers[label] = (status, api_routes.effect(before, api_routes.snapshot(subject)))
        statuses = {status for status, _ in answers.values()}
        if len(set(map(repr, answers.values()))) != 1 or max(statuses) >= 400:
            differences.append((operation, answers))
    assert differences == []
