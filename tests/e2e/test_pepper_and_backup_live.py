"""The tokens pepper stays with the data (issue 20, item 8).

A start whose pepper is not the one the stored tokens were made with stops
with a message that says so (`manage.py check` and gunicorn alike); a lost
pepper file is not replaced by a new one; `manage.py backup` and `restore`
carry the database and the secrets to a fresh var/, where every token works.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import httpx
import pytest

from harness.gunicorn import GunicornServer
from harness.processes import ROOT
from tests.support.embedded_site import embedded_env, manage, set_up

pytestmark = [pytest.mark.live]

MAKE_TOKENS = """
from django.contrib.auth.models import User
from agents.services import agent_create
from tokens import services
agent = agent_create(display_name="Backup Bot")
agent_token = services.token_issue(agent=agent).secret
user = User.objects.create_superuser("owner", password="a-long-password-1")
operator_token = services.operator_token_create(user=user, name="backup").secret
print(agent_token)
print(operator_token)
"""


def make_tokens(var_dir) -> tuple[str, str]:
    result = manage(var_dir, "shell", "-c", MAKE_TOKENS)
    assert result.returncode == 0, result.stderr
    agent_token, operator_token = result.stdout.split()[-2:]
    return agent_token, operator_token


def answers(server: GunicornServer, agent_token: str, operator_token: str) -> tuple[int, int]:
    me = httpx.get(f"{server.url}/api/agent/me/",
                   headers={"Authorization": f"Bearer {agent_token}"}, timeout=30)
    agents = httpx.get(f"{server.url}/api/agents/",
                       headers={"Authorization": f"Bearer {operator_token}"}, timeout=30)
    return me.status_code, agents.status_code


@pytest.fixture(scope="module")
def template_site(tmp_path_factory):
    """One migrated site with an agent token and an operator token, copied by each test."""
    var_dir = tmp_path_factory.mktemp("template") / "var"
    set_up(var_dir)
    return var_dir, make_tokens(var_dir)


@pytest.fixture
def site_with_tokens(template_site, tmp_path):
    template, tokens = template_site
    var_dir = tmp_path / "var"
    shutil.copytree(template, var_dir)
    return var_dir, tokens


def test_a_pepper_that_is_not_the_datas_stops_check_and_gunicorn(site_with_tokens, tmp_path):
    var_dir, _ = site_with_tokens
    assert manage(var_dir, "check").returncode == 0
    (var_dir / "tokens_pepper").write_text("another-pepper-" * 4)
    check = manage(var_dir, "check")
    assert check.returncode != 0
    assert "tokens.E004" in check.stderr
    assert "does not match the pepper the database's 2 stored token(s) were made with" \
        in check.stderr
    gunicorn = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")], cwd=ROOT,
        env=embedded_env(var_dir, TAOS_BIND="127.0.0.1:0", TAOS_DEPLOY_WORKERS="0"),
        capture_output=True, text=True, timeout=60)
    assert gunicorn.returncode != 0
    assert "tokens.E004" in gunicorn.stdout + gunicorn.stderr


def test_a_lost_pepper_is_not_replaced_while_the_database_exists(site_with_tokens):
    var_dir, _ = site_with_tokens
    (var_dir / "tokens_pepper").unlink()
    check = manage(var_dir, "check")
    assert check.returncode != 0
    assert "tokens.E003" in check.stderr
    assert "no new pepper is made" in check.stderr
    assert not (var_dir / "tokens_pepper").exists()


def test_backup_then_restore_on_a_fresh_var_keeps_every_token_working(site_with_tokens,
                                                                       tmp_path):
    var_dir, (agent_token, operator_token) = site_with_tokens
    archive = tmp_path / "site.tar.gz"
    made = manage(var_dir, "backup", str(archive))
    assert made.returncode == 0, made.stderr
    assert archive.stat().st_mode & 0o777 == 0o600
    assert manage(var_dir, "backup", str(archive)).returncode != 0  # never overwritten

    fresh = tmp_path / "fresh-clone-var"
    restored = manage(fresh, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert (fresh / "tokens_pepper").read_text() == (var_dir / "tokens_pepper").read_text()
    assert manage(fresh, "check").returncode == 0
    server = GunicornServer(env=embedded_env(fresh), workers=2,
                            log_path=tmp_path / "gunicorn.log").start()
    try:
        assert answers(server, agent_token, operator_token) == (200, 200)
    finally:
        server.stop()
    # Restoring over a site that has data needs --force.
    again = manage(fresh, "restore", str(archive))
    assert again.returncode != 0
    assert "--force" in again.stderr


def test_restore_mends_a_site_whose_pepper_was_lost(site_with_tokens, tmp_path):
    var_dir, (agent_token, operator_token) = site_with_tokens
    archive = tmp_path / "site.tar.gz"
    assert manage(var_dir, "backup", str(archive)).returncode == 0
    (var_dir / "tokens_pepper").unlink()
    assert manage(var_dir, "check").returncode != 0
    mended = manage(var_dir, "restore", "--force", str(archive))
    assert mended.returncode == 0, mended.stderr
    assert manage(var_dir, "check").returncode == 0
