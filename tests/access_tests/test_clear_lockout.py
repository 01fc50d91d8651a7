"""`manage.py clear_lockout` ends a lockout of a user name or an address and says what it cleared."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tests.support.http_auth import PASSWORD, basic_auth

URL = "/api/agents/"
LIMIT = 3


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.TAOS_API_BASIC_AUTH = True
    settings.TAOS_AUTH_FAILURE_LIMIT = LIMIT
    settings.TAOS_AUTH_USER_FAILURE_LIMIT = LIMIT
    settings.TAOS_AUTH_DEVICE_FAILURE_LIMIT = LIMIT
    settings.TAOS_AUTH_LOCKOUT_SECONDS = 60


def get(password: str = "wrong", address: str = "192.0.2.1", username: str = "operator",
        client: APIClient | None = None):
    return (client or APIClient()).get(URL, HTTP_AUTHORIZATION=basic_auth(username, password),
                                       REMOTE_ADDR=address)


def clear(*args: str) -> str:
    out = StringIO()
    call_command("clear_lockout", *args, stdout=out)
    return out.getvalue()


def test_clearing_a_user_lets_the_right_password_in_and_says_so(operator):
    for n in range(LIMIT):
        get(address=f"198.51.100.{n + 1}")
    assert get(PASSWORD, "203.0.113.1").status_code == 429
    said = clear("--user", "operator")
    assert f"Cleared the lockout of user 'operator' ({LIMIT} failed logins forgotten)" in said
    assert get(PASSWORD, "203.0.113.1").status_code == 200


def test_clearing_a_user_ends_its_devices_lockouts_too(operator):
    device = APIClient()
    assert get(PASSWORD, client=device).status_code == 200
    for n in range(LIMIT):
        get(address=f"198.51.100.{n + 1}", client=device)
    assert get(PASSWORD, "203.0.113.1", client=device).status_code == 429
    clear("--user", "operator")
    assert get(PASSWORD, "203.0.113.1", client=device).status_code == 200


def test_clearing_an_address_lets_it_in_and_says_so(operator):
    for n in range(LIMIT):
        get(username=f"nobody-{n}")
    assert get(PASSWORD).status_code == 429
    said = clear("--address", "192.0.2.1")
    assert f"Cleared the lockout of address 192.0.2.1 ({LIMIT} failed logins forgotten)" in said
    assert get(PASSWORD).status_code == 200


def test_clearing_what_is_not_locked_out_says_what_there_was(operator):
    get()
    said = clear("--user", "operator", "--address", "192.0.2.9")
    assert "Nothing to clear for address 192.0.2.9: no failed logins on record." in said
    assert "User 'operator' was not locked out; forgot its 1 failed logins." in said


def test_clearing_a_user_clears_every_spelling_of_it(db, settings):
    for n, name in enumerate(["Ghost", "GHOST", "ghöst"]):
        get(username=name, address=f"198.51.100.{n + 1}")
    assert get(username="ghost", address="203.0.113.1").status_code == 429
    assert "Cleared the lockout of user 'ghost'" in clear("--user", "ghost")


@pytest.mark.parametrize(("args", "message"), [
    ((), "Give --user NAME, --address ADDRESS, or both."),
    (("--address", "example.org"), "'example.org' is not an IP address"),
])
def test_bad_arguments_are_refused(db, args, message):
    with pytest.raises(CommandError, match=message):
        clear(*args)


def test_a_cache_outage_is_an_error_not_nothing_to_clear(db, monkeypatch):
    class Down:  # django-redis with IGNORE_EXCEPTIONS: None and empty answers
        def add(self, *args, **kwargs):
            return None

        def get_many(self, keys):
            return {}

    monkeypatch.setattr("access.lockout.cache", Down())
    with pytest.raises(CommandError, match="unavailable .*nothing was cleared"):
        clear("--user", "operator")
