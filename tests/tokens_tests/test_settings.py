"""TOKENS_PEPPER: required in production, generated and kept under var/ by default."""

from __future__ import annotations

import os
import subprocess
import sys

from harness.processes import ROOT

PRINT_PEPPER = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.TOKENS_PEPPER)"
)


def run_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "TOKENS_PEPPER", "TAOS_VAR_DIR"}}
    return subprocess.run(
        [sys.executable, "-c", PRINT_PEPPER], cwd=ROOT, capture_output=True, text=True,
        env={**base, "DJANGO_SETTINGS_MODULE": "tinyagentos_site.settings", **env},
    )


def test_pepper_is_required_when_database_url_is_set(tmp_path):
    result = run_settings({"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
                           "SECRET_KEY": "x" * 50, "TAOS_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "TOKENS_PEPPER must be set when DATABASE_URL is set" in result.stderr


def test_embedded_default_generates_one_pepper_and_keeps_it(tmp_path):
    first = run_settings({"TAOS_VAR_DIR": str(tmp_path)})
    second = run_settings({"TAOS_VAR_DIR": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    pepper = first.stdout.strip()
    assert len(pepper) >= 32
    assert second.stdout.strip() == pepper
    assert (tmp_path / "tokens_pepper").read_text().strip() == pepper
    assert oct((tmp_path / "tokens_pepper").stat().st_mode & 0o777) == "0o600"


def test_pepper_from_the_environment_wins(tmp_path):
    result = run_settings({"TAOS_VAR_DIR": str(tmp_path), "TOKENS_PEPPER": "from-env"})
    assert result.stdout.strip() == "from-env"
    assert not (tmp_path / "tokens_pepper").exists()
