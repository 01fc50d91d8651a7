"""The pepper's fingerprint is recorded with the first token and checked at start."""

from __future__ import annotations

import pytest

from agents.services import agent_create
from tokens import crypto, services
from tokens.checks import check_tokens_pepper
from tokens.models import PepperFingerprint

pytestmark = pytest.mark.django_db


def test_fingerprint_is_an_hmac_of_a_label_never_the_pepper(settings):
    fingerprint = crypto.pepper_fingerprint(settings.TOKENS_PEPPER)
    assert settings.TOKENS_PEPPER not in fingerprint
    assert len(fingerprint) == 64
    assert crypto.pepper_fingerprint("another pepper") != fingerprint


def test_no_fingerprint_and_no_finding_before_the_first_token():
    assert not PepperFingerprint.objects.exists()
    assert check_tokens_pepper() == []


def test_the_first_token_records_the_pepper_and_later_ones_keep_it(settings, make_user):
    services.token_issue(agent=agent_create(display_name="Pepper One"))
    recorded = PepperFingerprint.objects.get()
    assert recorded.fingerprint == crypto.pepper_fingerprint(settings.TOKENS_PEPPER)
    services.operator_token_create(user=make_user("pepper"), name="second")
    assert PepperFingerprint.objects.get() == recorded
    assert check_tokens_pepper() == []


def test_another_pepper_than_the_datas_is_a_check_error(settings):
    services.token_issue(agent=agent_create(display_name="Pepper Two"))
    settings.TOKENS_PEPPER = "a-different-pepper-0123456789-abcdefghijklmnop"
    [error] = check_tokens_pepper()
    assert error.id == "tokens.E004"
    assert "does not match the pepper the database's 1 stored token(s) were made with" \
        in error.msg


def test_a_missing_pepper_is_a_check_error_that_counts_the_tokens(settings):
    services.token_issue(agent=agent_create(display_name="Pepper Three"))
    settings.TOKENS_PEPPER = ""
    [error] = check_tokens_pepper()
    assert error.id == "tokens.E003"
    assert "its 1 stored token(s)" in error.msg
