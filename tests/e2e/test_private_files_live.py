"""The embedded default's files are private: var/ 0700, every file in it 0600 (issue 20, item 7).

Also the files made after the start: SQLite's -wal and -shm, the idempotency
slot files, the deploy worker's writes, collectstatic's copies.
"""

from __future__ import annotations

import os

import httpx
import pytest

from harness.gunicorn import GunicornServer
from tests.support.embedded_site import embedded_env, manage, modes, set_up

pytestmark = [pytest.mark.live]


def not_private(var_dir) -> dict[str, str]:
    found = modes(var_dir)
    return {path: mode for path, mode in found.items()
            if mode != ("0o700" if (var_dir / path).is_dir() else "0o600")}


def test_var_and_every_file_in_it_are_private_after_start_and_writes(tmp_path):
    var_dir = tmp_path / "var"
    set_up(var_dir)
    token = manage(var_dir, "create_operator_token", "admin", "--name", "modes")
    if token.returncode != 0:  # no admin yet: make one as `make run` does
        made = manage(var_dir, "ensure_admin", DJANGO_SUPERUSER_PASSWORD="a-long-password-1")
        assert made.returncode == 0, made.stderr
        token = manage(var_dir, "create_operator_token", "admin", "--name", "modes")
    assert token.returncode == 0, token.stderr
    server = GunicornServer(env=embedded_env(var_dir), workers=2,
                            log_path=tmp_path / "gunicorn.log").start()
    try:
        headers = {"Authorization": f"Bearer {token.stdout.strip()}",
                   "Idempotency-Key": "modes-1"}
        created = httpx.post(f"{server.url}/api/agents/", json={"display_name": "Modes"},
                             headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        assert (var_dir / "db.sqlite3-wal").exists()
        assert not_private(var_dir) == {}
    finally:
        server.stop()
    assert len(modes(var_dir)) > 10  # the database, its WAL, secrets, static files
    assert not_private(var_dir) == {}


def test_files_made_public_before_are_made_private_at_the_next_start(tmp_path):
    var_dir = tmp_path / "var"
    set_up(var_dir)
    os.chmod(var_dir, 0o755)
    os.chmod(var_dir / "db.sqlite3", 0o644)
    os.chmod(var_dir / "tokens_pepper", 0o644)
    (var_dir / "copied-in").write_text("x")
    os.chmod(var_dir / "copied-in", 0o666)
    assert manage(var_dir, "check").returncode == 0
    assert not_private(var_dir) == {}
