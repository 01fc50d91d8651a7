"""Run manage.py and gunicorn as the embedded default does (`make run`), on a var/ of a test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.processes import ROOT

# What would point a child at the test run's database, cache or secrets instead.
NOT_INHERITED = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TOKENS_PEPPER", "TAOS_SQLITE_PATH",
                 "TAOS_STATIC_ROOT", "IDEMPOTENCY_SLOT_DIR", "DEBUG", "DJANGO_SETTINGS_MODULE"}


def embedded_env(var_dir: Path, **overrides: str) -> dict[str, str]:
    """Return the environment of an embedded-default site whose files live in `var_dir`."""
    base = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    return {**base, "DJANGO_SETTINGS_MODULE": "tinyagentos_site.settings",
            "TAOS_VAR_DIR": str(var_dir), **overrides}


def manage(var_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `manage.py *args` against the embedded site in `var_dir`."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                          env=embedded_env(var_dir, **env), capture_output=True, text=True,
                          timeout=180)


def set_up(var_dir: Path) -> None:
    """Do what `make run` does before gunicorn starts: migrate, the cache table, static files."""
    for args in (("migrate", "--noinput"), ("createcachetable",),
                 ("collectstatic", "--noinput", "--verbosity", "0")):
        result = manage(var_dir, *args)
        assert result.returncode == 0, result.stdout + result.stderr


def modes(var_dir: Path) -> dict[str, str]:
    """Return the permission bits of `var_dir` and everything in it, by relative path."""
    found = {".": oct(var_dir.stat().st_mode & 0o777)}
    for path in var_dir.rglob("*"):
        found[str(path.relative_to(var_dir))] = oct(path.lstat().st_mode & 0o777)
    return found
