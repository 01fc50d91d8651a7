"""HTTP Basic runs at most TAOS_BASIC_AUTH_CHECKS_PER_SECOND password checks per address and second."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from access import hasher_budget
from tests.support.http_auth import basic_auth

URL = "/api/agents/"
BUDGET = 3


@pytest.fixture(autouse=True)
def _budget(settings, monkeypatch):
    settings.TAOS_API_BASIC_AUTH = True
    settings.TAOS_BASIC_AUTH_CHECKS_PER_SECOND = BUDGET
    settings.TAOS_AUTH_FAILURE_LIMIT = 100
    now = [1_000_000.0]
    monkeypatch.setattr(hasher_budget, "_now", lambda: now[0])
    return now


def get(address: str = "192.0.2.1", password: str | None = None):
    auth = basic_auth("admin") if password is None else basic_auth("admin", password)
    return APIClient().get(URL, HTTP_AUTHORIZATION=auth, REMOTE_ADDR=address)


def test_the_right_password_past_the_budget_answers_429_with_retry_after(make_user):
    make_user("admin", superuser=True)
    assert [get().status_code for _ in range(BUDGET)] == [200] * BUDGET
    over = get()
    assert over.status_code == 429
    assert over["Retry-After"] == "1"
    assert over.json()["code"] == "throttled"


def test_the_budget_is_per_address(make_user):
    make_user("admin", superuser=True)
    for _ in range(BUDGET):
        get("192.0.2.1")
    assert get("192.0.2.1").status_code == 429
    assert get("192.0.2.2").status_code == 200


def test_the_next_second_has_a_new_budget(make_user, _budget):
    make_user("admin", superuser=True)
    for _ in range(BUDGET):
        get()
    assert get().status_code == 429
    _budget[0] += 1
    assert get().status_code == 200


def test_a_429_never_reaches_the_hasher(make_user, monkeypatch):
    make_user("admin", superuser=True)
    for _ in range(BUDGET):
        get(password="wrong")
    checked = []
    monkeypatch.setattr("django.contrib.auth.backends.ModelBackend.authenticate",
                        lambda *args, **kwargs: checked.append(1))
    assert get().status_code == 429
    assert checked == []


def test_zero_means_no_bound(settings, make_user):
    settings.TAOS_BASIC_AUTH_CHECKS_PER_SECOND = 0
    make_user("admin", superuser=True)
    assert {get().status_code for _ in range(BUDGET + 3)} == {200}
