"""Settings come from the environment; production is `check --deploy` clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tinyagentos_site.env import env_bool, env_list, secret_from_env_or_file

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TOKENS_PEPPER", "DEBUG"}}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                          env={**base, **env}, capture_output=True, text=True, timeout=120)


PRODUCTION_ENV = {
    "DATABASE_URL": "postgres://root@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": "production-like-secret-key-with-entropy-0123456789-ABCDEFGHIJ",
    "TOKENS_PEPPER": "production-like-tokens-pepper-0123456789-abcdefghij",
    "ALLOWED_HOSTS": "taos.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://taos.example.org",
    "TAOS_HTTPS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_without_https_settings():
    env = {**PRODUCTION_ENV, "TAOS_HTTPS": "0", "SECURE_HSTS_PRELOAD": "0"}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout


def test_production_requires_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DATABASE_URL is set" in result.stderr


def test_embedded_secret_is_generated_once_and_kept(tmp_path):
    path = tmp_path / "var" / "secret_key"
    first = secret_from_env_or_file("TAOS_TEST_UNSET_SECRET", path, required=False)
    second = secret_from_env_or_file("TAOS_TEST_UNSET_SECRET", path, required=False)
    assert len(first) >= 50
    assert first == second
    assert path.stat().st_mode & 0o777 == 0o600


def test_secret_from_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("TAOS_TEST_SECRET", "from-env")
    assert secret_from_env_or_file("TAOS_TEST_SECRET", tmp_path / "s", required=True) == "from-env"
    assert not (tmp_path / "s").exists()


def test_env_helpers_parse_and_reject(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env_bool("X_BOOL") is True
    assert env_list("X_LIST", []) == ["a", "b", "c"]
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ImproperlyConfigured):
        env_bool("X_BOOL")
