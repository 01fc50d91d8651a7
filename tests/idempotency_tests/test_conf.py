"""The package's settings: its own defaults when the project sets nothing, read at call time."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import AnonymousUser, User
from rest_framework.test import APIRequestFactory

from idempotency import conf
from idempotency.errors import IdempotencyKeyInUse, json_error_response


@pytest.mark.parametrize("name", sorted(conf.DEFAULTS))
def test_a_setting_the_project_leaves_out_has_the_packages_default(settings, name):
    if hasattr(settings, conf.PREFIX + name):
        delattr(settings, conf.PREFIX + name)
    assert conf.get(name) == conf.DEFAULTS[name]


def test_a_setting_is_read_when_used_not_at_import(settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 3
    assert conf.get("WAIT_SECONDS") == 3


def test_the_default_principal_is_the_authenticated_user():
    request = APIRequestFactory().post("/")
    request.user = User(pk=7, username="u")
    assert conf.user_principal(request) == "user:7"
    request.user = AnonymousUser()
    assert conf.user_principal(request) is None


def test_the_project_names_its_own_principal_and_error_response(settings):
    assert conf.hook("PRINCIPAL").__module__ == "access.principals"
    response = conf.error_response(IdempotencyKeyInUse(retry_after=2.5))
    assert (response.status_code, response["Retry-After"]) == (409, "3")
    assert response["Content-Type"] == "application/problem+json"
    assert json.loads(response.content)["code"] == "idempotency_key_in_use"


def test_the_default_error_response_is_code_and_detail_with_the_errors_headers():
    response = json_error_response(IdempotencyKeyInUse(retry_after=1))
    assert (response.status_code, response["Retry-After"]) == (409, "1")
    assert json.loads(response.content) == {
        "code": "idempotency_key_in_use",
        "detail": IdempotencyKeyInUse.default_detail,
    }
