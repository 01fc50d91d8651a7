"""A login name logs in only as the account it spells exactly; failures count per account."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from access import accounts
from tests.support.http_auth import PASSWORD, basic_auth

URL = "/api/agents/"
SPELLINGS = ["Admin", "admin ", "ädmin", "ADMIN", "ａｄｍｉｎ"]


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.TAOS_API_BASIC_AUTH = True
    settings.TAOS_AUTH_FAILURE_LIMIT = 1000
    settings.TAOS_AUTH_USER_FAILURE_LIMIT = 30
    settings.TAOS_AUTH_LOCKOUT_SECONDS = 60


def get(username: str, password: str, address: str):
    return APIClient().get(URL, HTTP_AUTHORIZATION=basic_auth(username, password),
                           REMOTE_ADDR=address)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_another_spelling_of_a_name_does_not_log_in(make_user, spelling):
    make_user("admin", superuser=True)
    assert get("admin", PASSWORD, "192.0.2.1").status_code == 200
    assert get(spelling, PASSWORD, "192.0.2.2").status_code == 401


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_fold_makes_every_spelling_one_name(spelling):
    assert accounts.fold(spelling) == "admin"


def test_a_name_resolves_to_its_account_and_counts_under_its_primary_key(make_user):
    admin = make_user("admin", superuser=True)
    account = accounts.resolve("admin")
    assert account.user == admin
    assert account.key == f"pk:{admin.pk}"


@pytest.mark.parametrize("spelling", ["Admin", "admin ", "ädmin"])
def test_another_spelling_names_no_user_and_counts_as_the_account_the_engine_finds(
        make_user, spelling):
    admin = make_user("admin", superuser=True)
    account = accounts.resolve(spelling)
    assert account.user is None
    # MariaDB's collation finds admin under these spellings: they count as admin.
    # Engines that compare exactly find no account: the folded name counts.
    found_by_engine = connection.vendor == "mysql"
    assert account.key == (f"pk:{admin.pk}" if found_by_engine else "name:admin")


def test_30_wrong_passwords_then_other_spellings_with_the_right_one_are_not_logged_in(make_user):
    make_user("admin", superuser=True)
    statuses = [get("admin", f"guess-{n}", f"198.51.100.{n + 1}").status_code for n in range(30)]
    assert statuses == [401] * 30
    for n, spelling in enumerate(["Admin", "admin "]):
        response = get(spelling, PASSWORD, f"203.0.113.{n + 1}")
        assert response.status_code in (401, 429), response.content
        assert response.status_code == (429 if connection.vendor == "mysql" else 401)
    assert get("admin", PASSWORD, "203.0.113.9").status_code == 429


def test_failures_under_many_spellings_of_an_unknown_name_share_one_count(db, settings):
    settings.TAOS_AUTH_USER_FAILURE_LIMIT = 3
    statuses = [get(name, "wrong", f"198.51.100.{n + 1}").status_code
                for n, name in enumerate(["Ghost", "ghost ", "GHÖST", "ghost"])]
    assert statuses == [401, 401, 401, 429]
