"""A client that logged in as a user before (its device cookie) is not locked out by others' failures."""

from __future__ import annotations

import time

import pytest
from django.core import signing
from django.test import Client
from rest_framework.test import APIClient

from access import device_cookie
from tests.support.http_auth import PASSWORD, basic_auth

URL = "/api/agents/"
USER_LIMIT = 4
DEVICE_LIMIT = 2


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.TAOS_API_BASIC_AUTH = True
    settings.TAOS_AUTH_FAILURE_LIMIT = 100
    settings.TAOS_AUTH_USER_FAILURE_LIMIT = USER_LIMIT
    settings.TAOS_AUTH_DEVICE_FAILURE_LIMIT = DEVICE_LIMIT
    settings.TAOS_AUTH_LOCKOUT_SECONDS = 60


def get(client: APIClient | None = None, *, password: str = "wrong", address: str = "192.0.2.1",
        username: str = "operator"):
    return (client or APIClient()).get(URL, HTTP_AUTHORIZATION=basic_auth(username, password),
                                       REMOTE_ADDR=address)


def device_client(address: str = "192.0.2.200") -> APIClient:
    """Return an API client that logged in once with Basic and kept its device cookie."""
    client = APIClient()
    assert get(client, password=PASSWORD, address=address).status_code == 200
    assert device_cookie.COOKIE_NAME in client.cookies
    return client


def lock_out_the_user() -> None:
    for n in range(USER_LIMIT):
        assert get(address=f"198.51.100.{n + 1}").status_code == 401
    assert get(password=PASSWORD, address="198.51.100.99").status_code == 429


def test_a_basic_login_gets_a_signed_httponly_lax_long_lived_device_cookie(operator, settings):
    settings.TAOS_HTTPS = True
    response = get(password=PASSWORD)
    cookie = response.cookies[device_cookie.COOKIE_NAME]
    assert cookie["httponly"] and cookie["secure"]
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == settings.TAOS_DEVICE_COOKIE_AGE
    payload = signing.loads(cookie.value, salt=device_cookie.SALT)
    assert payload["u"] == str(operator.pk) and len(payload["n"]) >= 16


def test_a_wrong_password_gets_no_device_cookie(operator):
    assert device_cookie.COOKIE_NAME not in get().cookies


def test_a_client_that_holds_a_valid_cookie_keeps_it(operator):
    client = device_client()
    first = client.cookies[device_cookie.COOKIE_NAME].value
    assert device_cookie.COOKIE_NAME not in get(client, password=PASSWORD).cookies
    assert client.cookies[device_cookie.COOKIE_NAME].value == first


def test_the_admin_login_gives_a_device_cookie(root):
    client = Client()
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302
    value = response.cookies[device_cookie.COOKIE_NAME].value
    assert device_cookie.nonce(value, root) is not None


def test_others_failures_do_not_lock_out_a_client_with_a_device_cookie(operator):
    owner = device_client()
    lock_out_the_user()
    assert get(owner, password=PASSWORD, address="203.0.113.5").status_code == 200


def test_a_device_is_locked_out_by_its_own_failures_and_not_the_user(operator):
    owner = device_client()
    for n in range(DEVICE_LIMIT):
        assert get(owner, address=f"203.0.113.{n + 1}").status_code == 401
    locked = get(owner, password=PASSWORD, address="203.0.113.50")
    assert locked.status_code == 429
    # The device's failures were its own: the user's count is untouched.
    assert get(password=PASSWORD, address="203.0.113.51").status_code == 200


def test_the_admin_login_with_a_device_cookie_gets_in_while_the_user_is_locked_out(root):
    earlier = Client().post("/admin/login/", {"username": "root", "password": PASSWORD},
                            REMOTE_ADDR="192.0.2.200")
    owner = Client()  # no session: only the device cookie of the earlier login
    owner.cookies[device_cookie.COOKIE_NAME] = earlier.cookies[device_cookie.COOKIE_NAME].value
    for n in range(USER_LIMIT):
        get(username="root", address=f"198.51.100.{n + 1}")
    stranger = Client().post("/admin/login/", {"username": "root", "password": PASSWORD},
                             REMOTE_ADDR="198.51.100.99")
    assert stranger.status_code == 429
    assert owner.post("/admin/login/", {"username": "root", "password": PASSWORD},
                      REMOTE_ADDR="192.0.2.201").status_code == 302


@pytest.mark.parametrize("forge", ["other user", "bad signature", "other salt", "expired",
                                   "before a password change", "garbage"])
def test_a_cookie_that_is_not_a_valid_one_for_the_user_counts_as_none(operator, make_user,
                                                                      settings, forge):
    other = make_user("other")
    values = {
        "other user": device_cookie.make(other),
        "bad signature": device_cookie.make(operator)[:-2] + "xx",
        "other salt": signing.dumps({"u": str(operator.pk), "n": "n" * 22}, salt="elsewhere"),
        "expired": device_cookie.make(operator),
        "before a password change": device_cookie.make(operator),
        "garbage": "\x00not a cookie",
    }
    value = values[forge]
    if forge == "expired":
        settings.TAOS_DEVICE_COOKIE_AGE = 1
        time.sleep(2.1)
    if forge == "before a password change":
        operator.set_password(PASSWORD)  # the same password, a new hash (a new salt)
        operator.save()
    lock_out_the_user()
    client = APIClient()
    client.cookies[device_cookie.COOKIE_NAME] = value
    assert get(client, password=PASSWORD, address="203.0.113.5").status_code == 429


def test_the_lockout_page_tells_the_owner_how_to_clear_it(root, settings):
    settings.TAOS_AUTH_USER_FAILURE_LIMIT = 1
    Client().post("/admin/login/", {"username": "root", "password": "wrong"},
                  REMOTE_ADDR="192.0.2.1")
    page = Client().post("/admin/login/", {"username": "root", "password": PASSWORD},
                         REMOTE_ADDR="192.0.2.2")
    assert page.status_code == 429
    assert page.context["scope"] == "user"
    text = page.content.decode()
    assert "manage.py clear_lockout --user root" in text
    assert "manage.py clear_lockout --address 192.0.2.2" in text
    assert "manage.py changepassword root" in text
