from __future__ import annotations

import pytest

from access.throttling import parse_rate

pytestmark = pytest.mark.django_db


def test_parse_rate_reads_count_and_period():
    assert parse_rate("100/min") == (100, 60)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate("off") is None
    with pytest.raises(ValueError):
        parse_rate("lots")


def test_requests_over_the_rate_get_429_with_retry_after(api, settings):
    settings.TAOS_THROTTLE_USER = "3/min"
    statuses = [api.get("/api/agents/").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    response = api.get("/api/agents/")
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_each_principal_has_its_own_count(api, make_user, settings):
    from rest_framework.test import APIClient

    settings.TAOS_THROTTLE_USER = "2/min"
    other = APIClient()
    other.force_authenticate(make_user("other", perms=("agents.view_agent",)))
    assert [api.get("/api/agents/").status_code for _ in range(3)] == [200, 200, 429]
    assert other.get("/api/agents/").status_code == 200


def test_throttling_off_never_limits(api, settings):
    settings.TAOS_THROTTLE_USER = "off"
    assert all(api.get("/api/agents/").status_code == 200 for _ in range(20))


def test_agent_tokens_are_throttled_per_agent(settings):
    from rest_framework.test import APIClient

    from agents.services import agent_create
    from tokens.services import token_issue

    settings.TAOS_THROTTLE_USER = "2/min"
    first, second = (token_issue(agent=agent_create(display_name=name)).secret
                     for name in ("One", "Two"))
    client = APIClient()
    me = lambda secret: client.get("/api/agent/me/",  # noqa: E731
                                   HTTP_AUTHORIZATION=f"Bearer {secret}").status_code
    assert [me(first) for _ in range(3)] == [200, 200, 429]
    assert me(second) == 200


def test_anonymous_callers_are_counted_by_client_address_through_trusted_proxies(settings):
    from django.contrib.auth.models import AnonymousUser
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from access.throttling import principal_ident

    def ident(remote: str, forwarded: str) -> str:
        request = Request(APIRequestFactory().get("/api/schema/", REMOTE_ADDR=remote,
                                                  HTTP_X_FORWARDED_FOR=forwarded))
        request.user = AnonymousUser()
        return principal_ident(request)

    settings.TAOS_TRUSTED_PROXIES = ["10.0.0.1"]
    assert ident("10.0.0.1", "198.51.100.1") == "anon:198.51.100.1"
    assert ident("10.0.0.1", "198.51.100.2") == "anon:198.51.100.2"
    assert ident("192.0.2.9", "198.51.100.1") == "anon:192.0.2.9"  # not a trusted proxy
