"""Failed authentication is counted per client address and per account; past the limit 429."""

from __future__ import annotations

import logging
import time

import pytest
from rest_framework.test import APIClient

from access.password_backend import LockoutModelBackend

from tests.support.http_auth import PASSWORD, basic_auth, bearer, operator_bearer
from tokens import crypto

URL = "/api/agents/"
LIMIT = 3


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.TAOS_API_BASIC_AUTH = True
    settings.TAOS_AUTH_FAILURE_LIMIT = LIMIT
    settings.TAOS_AUTH_USER_FAILURE_LIMIT = 100
    settings.TAOS_AUTH_LOCKOUT_SECONDS = 60


@pytest.fixture
def password_checks(monkeypatch) -> list[object]:
    """Count the password checks that reach the hasher (known and unknown user names)."""
    seen: list[object] = []
    original = LockoutModelBackend._check_password

    def counting(self, user, password):
        seen.append(user)
        return original(self, user, password)

    monkeypatch.setattr(LockoutModelBackend, "_check_password", counting)
    return seen


def get(username: str = "operator", password: str = "wrong", address: str = "192.0.2.1",
        **extra):
    return APIClient().get(URL, HTTP_AUTHORIZATION=basic_auth(username, password),
                           REMOTE_ADDR=address, **extra)


def test_wrong_passwords_past_the_limit_answer_429_without_checking(operator, password_checks):
    statuses = [get().status_code for _ in range(LIMIT + 5)]
    assert statuses == [401] * LIMIT + [429] * 5
    assert len(password_checks) == LIMIT
    locked = get(password=PASSWORD)
    assert locked.status_code == 429  # the right password too: nobody learns it is right
    assert locked.json()["code"] == "authentication_locked_out"
    assert 0 < int(locked["Retry-After"]) <= 60
    assert len(password_checks) == LIMIT


def test_unknown_user_names_are_counted_too(db, password_checks):
    statuses = [get(username=f"nobody-{n}").status_code for n in range(LIMIT + 2)]
    assert statuses == [401] * LIMIT + [429] * 2
    assert len(password_checks) == LIMIT


def test_the_right_password_works_again_after_the_window(operator, settings):
    settings.TAOS_AUTH_LOCKOUT_SECONDS = 1
    for _ in range(LIMIT):
        get()
    assert get(password=PASSWORD).status_code == 429
    time.sleep(1.2)
    assert get(password=PASSWORD).status_code == 200


def test_another_address_is_not_locked_out(operator):
    for _ in range(LIMIT + 2):
        get(address="192.0.2.1")
    assert get(address="192.0.2.1", password=PASSWORD).status_code == 429
    assert get(address="192.0.2.2", password=PASSWORD).status_code == 200


def test_a_user_name_is_locked_out_from_every_address(operator, settings, password_checks):
    settings.TAOS_AUTH_USER_FAILURE_LIMIT = 4
    for n in range(4):
        assert get(address=f"192.0.2.{n + 1}").status_code == 401
    assert get(address="192.0.2.50", password=PASSWORD).status_code == 429
    assert len(password_checks) == 4


def test_good_passwords_never_count(operator, password_checks):
    for _ in range(3 * LIMIT):
        assert get(password=PASSWORD).status_code == 200
    assert get().status_code == 401  # one failure on record: checks now take a slot first
    for _ in range(3 * LIMIT):
        assert get(password=PASSWORD).status_code == 200  # and give it back
    assert get().status_code == 401


def test_behind_a_trusted_proxy_clients_are_told_apart(operator, settings):
    settings.TAOS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    for _ in range(LIMIT + 1):
        get(address="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert get(address="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.7",
               password=PASSWORD).status_code == 429
    assert get(address="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.8",
               password=PASSWORD).status_code == 200


def test_a_client_cannot_choose_its_address(operator, settings):
    settings.TAOS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    for n in range(LIMIT + 1):
        # Not from a trusted proxy: its X-Forwarded-For is ignored.
        get(address="192.0.2.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert get(address="192.0.2.9", HTTP_X_FORWARDED_FOR="198.51.100.99",
               password=PASSWORD).status_code == 429
    for n in range(LIMIT + 1):
        # Behind the proxy, what the client wrote at the left is not reached.
        get(address="10.0.0.5", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.20")
    assert get(address="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.200, 198.51.100.20",
               password=PASSWORD).status_code == 429


def test_failing_tokens_are_locked_out_per_address_and_good_ones_still_work(operator):
    unknown = crypto.generate(crypto.Kind.OPERATOR).secret
    statuses = [APIClient().get(URL, REMOTE_ADDR="192.0.2.1", **bearer(unknown)).status_code
                for _ in range(LIMIT + 2)]
    assert statuses == [401] * LIMIT + [429] * 2
    good = operator_bearer(operator)
    assert APIClient().get(URL, REMOTE_ADDR="192.0.2.1", HTTP_AUTHORIZATION=good).status_code == 200
    # The address is locked out for passwords too.
    assert get(address="192.0.2.1", password=PASSWORD).status_code == 429


def test_failures_and_lockouts_are_logged_without_the_secret(operator, caplog):
    with caplog.at_level(logging.WARNING, logger="access.lockout"):
        for _ in range(LIMIT + 1):
            get(password="hunter2-secret-guess")
    text = caplog.text
    assert "authentication failed: method=basic address=192.0.2.1 user='operator'" in text
    assert "authentication locked out: method=basic address=192.0.2.1 user='operator'" in text
    assert "hunter2-secret-guess" not in text


def test_admin_login_is_locked_out_with_a_page_that_says_so(client, make_user, password_checks):
    make_user("root", superuser=True)
    for _ in range(LIMIT):
        response = client.post("/admin/login/", {"username": "root", "password": "wrong"},
                               REMOTE_ADDR="192.0.2.1")
        assert response.status_code == 200  # the form again, with its error
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD},
                           REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many failed logins" in response.content.decode()
    assert len(password_checks) == LIMIT
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD},
                           REMOTE_ADDR="192.0.2.2")
    assert response.status_code == 302


def test_a_cache_outage_lets_authentication_through(operator, monkeypatch):
    class Down:
        def get_many(self, keys):
            raise ConnectionError("cache down")

        def add(self, *args, **kwargs):
            raise ConnectionError("cache down")

        def delete_many(self, keys):
            raise ConnectionError("cache down")

    monkeypatch.setattr("access.lockout.cache", Down())
    assert [get().status_code for _ in range(LIMIT + 2)] == [401] * (LIMIT + 2)
    assert get(password=PASSWORD).status_code == 200


def test_a_locked_out_password_check_raises_locked_out_and_leaves_the_request_alone(
        operator, password_checks):
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    from access.lockout import LockedOut

    def attempt(password: str):
        request = RequestFactory().post("/admin/login/", REMOTE_ADDR="192.0.2.9")
        request.COOKIES  # noqa: B018  Django parses (and keeps) them on first read
        before = set(vars(request))
        try:
            return authenticate(request, username="operator", password=password), request, before
        except LockedOut as exc:
            return exc, request, before

    for _ in range(LIMIT):
        user, _, _ = attempt("wrong")
        assert user is None
    outcome, request, before = attempt(PASSWORD)
    assert isinstance(outcome, LockedOut)  # the lockout comes back as a value...
    assert 0 < outcome.retry_after <= 60
    assert set(vars(request)) == before  # ...and nothing is left on the request for others
    assert len(password_checks) == LIMIT
