"""The owner is not locked out by others, a lockout can be cleared, and the embedded default counts.

Four gunicorn workers behind a trusted proxy (127.0.0.1: each client names
its address in X-Forwarded-For), on the test database and its shared cache
(Redis, or the database cache), and on a fresh embedded default made by
`migrate` alone.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys

import httpx
import pytest

from access import device_cookie
from harness.processes import ROOT
from tests.support.http_auth import PASSWORD, basic_auth
from tests.support.live_env import live_env

pytestmark = [pytest.mark.live]

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ATTACKERS = [f"198.51.100.{n}" for n in (11, 12, 13, 14)]
LIVE = {"DJANGO_SETTINGS_MODULE": "harness.live_settings"}


def form_login(base_url: str, address: str, cookies: dict[str, str] | None = None,
               password: str = PASSWORD) -> httpx.Response:
    """Log in as admin through the admin's form, from `address`, with `cookies`."""
    headers = {"X-Forwarded-For": address}
    with httpx.Client(base_url=base_url, timeout=30, headers=headers, cookies=cookies) as client:
        page = client.get("/admin/login/")
        return client.post("/admin/login/", data={
            "csrfmiddlewaretoken": CSRF_RE.findall(page.text)[0],
            "username": "admin", "password": password, "next": "/admin/"})


def wrong_passwords(base_url: str, per_address: int) -> list[int]:
    statuses = []
    for n in range(per_address):
        for address in ATTACKERS:
            # A new connection each time: the guesses spread over the workers.
            statuses.append(httpx.get(f"{base_url}/api/agents/", timeout=30, headers={
                "Authorization": basic_auth("admin", f"guess-{address}-{n}"),
                "X-Forwarded-For": address}).status_code)
    return statuses


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_40_wrong_passwords_from_4_addresses_keep_out_all_but_a_device_that_logged_in_before(
        gunicorn_factory, make_user):
    make_user("admin", superuser=True)
    server = gunicorn_factory(
        workers=4, TAOS_AUTH_FAILURE_LIMIT="10", TAOS_AUTH_USER_FAILURE_LIMIT="30",
        TAOS_AUTH_LOCKOUT_SECONDS="900", TAOS_TRUSTED_PROXIES="127.0.0.1")

    earlier = form_login(server.url, "203.0.113.10")
    assert earlier.status_code == 302, earlier.text[:500]
    device = {device_cookie.COOKIE_NAME: earlier.cookies[device_cookie.COOKIE_NAME]}

    statuses = wrong_passwords(server.url, per_address=10)
    assert len(statuses) == 40
    assert statuses.count(401) == 30 and statuses.count(429) == 10, statuses

    # The device that logged in before, from a new address: in, session and all.
    owner = form_login(server.url, "203.0.113.20", cookies=device)
    assert owner.status_code == 302, owner.text[:500]
    assert owner.headers["Location"] == "/admin/"
    # A client without one, with the right password: locked out, told how to clear it.
    stranger = form_login(server.url, "203.0.113.21")
    assert stranger.status_code == 429
    assert "manage.py clear_lockout --user admin" in stranger.text

    cleared = manage(live_env(LIVE), "clear_lockout", "--user", "admin")
    assert cleared.returncode == 0, cleared.stderr
    assert "Cleared the lockout of user 'admin' (30 failed logins forgotten)." in cleared.stdout
    assert form_login(server.url, "203.0.113.21").status_code == 302
    assert "guess-" not in server.log_tail(2000)


def test_the_embedded_default_made_by_migrate_alone_locks_out_after_the_limit(
        gunicorn_factory, tmp_path):
    database = tmp_path / "test-embedded.sqlite3"
    embedded = {"DATABASE_URL": "", "REDIS_URL": "", "TAOS_VAR_DIR": str(tmp_path),
                "TAOS_SQLITE_PATH": str(database)}
    env = {**{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
           **LIVE, **embedded, "DJANGO_SUPERUSER_USERNAME": "admin",
           "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    for command in (["migrate", "--noinput"], ["ensure_admin"]):  # no createcachetable
        result = manage(env, *command)
        assert result.returncode == 0, result.stdout + result.stderr
    server = gunicorn_factory(workers=4, TAOS_AUTH_FAILURE_LIMIT="10",
                              TAOS_TRUSTED_PROXIES="127.0.0.1", **embedded)

    statuses = [httpx.get(f"{server.url}/api/agents/", timeout=30, headers={
        "Authorization": basic_auth("admin", f"guess-{n}"),
        "X-Forwarded-For": ATTACKERS[0]}).status_code for n in range(20)]
    assert statuses == [401] * 10 + [429] * 10, statuses
    assert "not counting" not in server.log_tail(2000)
    # The server runs on the fresh database: its admin, from another address, is in.
    assert httpx.get(f"{server.url}/api/agents/", timeout=30, headers={
        "Authorization": basic_auth("admin"), "X-Forwarded-For": ATTACKERS[1]}).status_code == 200

    with sqlite3.connect(database) as db:
        db.execute("DROP TABLE taos_cache")
    check = manage(env, "check")
    assert check.returncode != 0
    assert "taos.E030" in check.stdout + check.stderr
