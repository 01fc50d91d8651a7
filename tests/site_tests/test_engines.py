"""Each engine's settings: system checks clean, MariaDB options, PgBouncer mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Strong enough for the production checks (length and distinct characters), test-only.
SECRETS = {"SECRET_KEY": "test-only-secret-key-not-for-production-0123456789abcdef",
           "TOKENS_PEPPER": "test-only-tokens-pepper-not-for-production-0123456"}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DB_POOLER"}}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def settings_of(env: dict[str, str]) -> str:
    code = ("from django.conf import settings; d = settings.DATABASES['default']; "
            "print(d['ENGINE'], d.get('DISABLE_SERVER_SIDE_CURSORS'), sorted(d['OPTIONS'].items()),"
            " d.get('TEST'))")
    result = manage("shell", "-c", code, env={**SECRETS, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_check_with_database_checks_has_no_warning_on_this_engine(tmp_path):
    # models.W036 (a conditional unique constraint MariaDB ignores) among others.
    env = {**SECRETS, "TAOS_VAR_DIR": str(tmp_path)}
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    result = manage("check", "--database", "default", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_mariadb_uses_utf8mb4_and_read_committed():
    out = settings_of({"DATABASE_URL": "mysql://root@127.0.0.1:3306/taos"})
    assert out.startswith("django.db.backends.mysql")
    assert "('charset', 'utf8mb4')" in out and "('isolation_level', 'read committed')" in out
    assert "'CHARSET': 'utf8mb4'" in out


def test_pgbouncer_mode_disables_server_side_cursors_and_prepared_statements():
    out = settings_of({"DATABASE_URL": "postgres://root@127.0.0.1:6432/taos",
                       "DB_POOLER": "pgbouncer"})
    assert out.startswith("django.db.backends.postgresql True")
    assert "('prepare_threshold', None)" in out


def test_pgbouncer_mode_refuses_another_engine_or_an_unknown_pooler():
    result = manage("check", env={**SECRETS, "DATABASE_URL": "mysql://root@127.0.0.1/taos",
                                  "DB_POOLER": "pgbouncer"})
    assert "DB_POOLER=pgbouncer needs a postgres:// DATABASE_URL" in result.stderr
    result = manage("check", env={**SECRETS, "DB_POOLER": "odyssey"})
    assert "DB_POOLER must be empty or 'pgbouncer'" in result.stderr
