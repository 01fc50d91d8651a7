"""A wrong setting stops `manage.py check` (and so the start) with a message naming it."""

from __future__ import annotations

import pytest

from tests.site_tests.test_settings import PRODUCTION_ENV, run_manage


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("TAOS_THROTTLE_USER", "100/fortnight", "TAOS_THROTTLE_USER: invalid rate"),
    ("TAOS_THROTTLE_ANON", "many", "TAOS_THROTTLE_ANON: invalid rate"),
    ("TAOS_AUTH_FAILURE_LIMIT", "0", "TAOS_AUTH_FAILURE_LIMIT must be an integer from 1 to"),
    ("TAOS_AUTH_FAILURE_LIMIT", "100000", "TAOS_AUTH_FAILURE_LIMIT must be an integer from 1"),
    ("TAOS_AUTH_USER_FAILURE_LIMIT", "-3", "TAOS_AUTH_USER_FAILURE_LIMIT must be"),
    ("TAOS_AUTH_LOCKOUT_SECONDS", "0", "TAOS_AUTH_LOCKOUT_SECONDS must be an integer >= 1"),
    ("TAOS_AUTH_DEVICE_FAILURE_LIMIT", "0", "TAOS_AUTH_DEVICE_FAILURE_LIMIT must be an integer"),
    ("TAOS_DEVICE_COOKIE_AGE", "0", "TAOS_DEVICE_COOKIE_AGE must be an integer >= 1"),
    ("TAOS_AUTH_LOCKOUT_SECONDS", "soon", "TAOS_AUTH_LOCKOUT_SECONDS must be an integer"),
    ("TAOS_TRUSTED_PROXIES", "10.0.0.1,lb.example.org", "TAOS_TRUSTED_PROXIES: 'lb.example.org'"),
    ("TAOS_MAX_BODY_BYTES", "0", "TAOS_MAX_BODY_BYTES must be"),
    ("TAOS_API_BASIC_AUTH", "maybe", "TAOS_API_BASIC_AUTH must be a boolean"),
    ("REDIS_URL", "http://127.0.0.1:6379/0", "REDIS_URL is not a Redis URL"),
    ("REDIS_URL", "redis://127.0.0.1:port/0", "REDIS_URL has a bad port"),
    ("DATABASE_URL", "postgres://root@127.0.0.1:5432/", "DATABASE_URL names no database"),
    ("DB_CONN_MAX_AGE", "-1", "DB_CONN_MAX_AGE must be >= 0"),
    ("SECURE_HSTS_SECONDS", "-5", "SECURE_HSTS_SECONDS must be"),
    ("SECRET_KEY", "short-secret", "SECRET_KEY is too weak for production"),
    ("SECRET_KEY", "ab" * 40, "SECRET_KEY is too weak for production: it has fewer than 10"),
    ("TOKENS_PEPPER", "pepper", "TOKENS_PEPPER is too weak for production"),
    ("TOKENS_PEPPER", "p" * 48, "TOKENS_PEPPER is too weak for production"),
    ("TOKENS_AGENT_TOKEN_TTL_SECONDS", "-1", "TOKENS_AGENT_TOKEN_TTL_SECONDS must be >= 0"),
    ("IDEMPOTENCY_WAIT_SECONDS", "0", "IDEMPOTENCY_WAIT_SECONDS must be a positive number"),
    ("DEPLOY_BACKEND", "carrier-pigeon", "DEPLOY_BACKEND"),
    ("DEBUG", "1", "DEBUG is on in production"),
    ("ALLOWED_HOSTS", "taos.example.org,*", "ALLOWED_HOSTS is '*'"),
    ("TAOS_TRUSTED_PROXIES", "10.0.0.5,0.0.0.0/0", "TAOS_TRUSTED_PROXIES trusts every address"),
    ("TAOS_TRUSTED_PROXIES", "::/0", "TAOS_TRUSTED_PROXIES trusts every address (::/0)"),
    ("TAOS_AUTH_LOCKOUT_SECONDS", "59", "TAOS_AUTH_LOCKOUT_SECONDS is 59, under a minute"),
])
def test_check_deploy_fails_for_each_bad_setting(variable, value, message):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING",
                        env={**PRODUCTION_ENV, variable: value})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert message in output, output


@pytest.mark.parametrize(("variable", "value"), [
    ("DEBUG", "1"), ("ALLOWED_HOSTS", "*"), ("TAOS_TRUSTED_PROXIES", "0.0.0.0/0"),
    ("TAOS_AUTH_LOCKOUT_SECONDS", "30"),
])
def test_the_embedded_default_keeps_its_development_freedoms(variable, value):
    result = run_manage("check", "--deploy", env={variable: value})
    output = result.stdout + result.stderr
    assert "taos.E020" not in output and "taos.E021" not in output, output


def test_sqlite_busy_timeout_is_checked():
    result = run_manage("check", env={"TAOS_SQLITE_BUSY_TIMEOUT": "0"})
    assert result.returncode != 0
    assert "TAOS_SQLITE_BUSY_TIMEOUT must be a positive number" in result.stdout + result.stderr


def test_the_embedded_default_passes_check():
    result = run_manage("check", env={})
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_under_the_test_only_settings(tmp_path):
    result = run_manage("check", "--deploy", env={
        "DJANGO_SETTINGS_MODULE": "harness.live_settings",
        "TAOS_SQLITE_PATH": str(tmp_path / "test.sqlite3")})
    assert result.returncode != 0
    assert "taos.E007" in result.stdout + result.stderr


def test_live_settings_refuse_a_database_that_is_not_a_test_one():
    result = run_manage("check", env={**PRODUCTION_ENV,
                                      "DJANGO_SETTINGS_MODULE": "harness.live_settings"})
    assert result.returncode != 0
    assert "harness.live_settings is test-only" in result.stderr
