"""The site under real gunicorn with DEBUG off: styled admin, health, two hosts."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.http_auth import basic_auth

pytestmark = [pytest.mark.live]


def test_admin_is_styled_under_gunicorn_with_debug_off(gunicorn_server):
    login = httpx.get(f"{gunicorn_server.url}/admin/login/")
    assert login.status_code == 200
    stylesheets = re.findall(r'href="(/static/admin/css/[^"]+\.css)"', login.text)
    assert stylesheets, login.text[:500]
    css = httpx.get(f"{gunicorn_server.url}{stylesheets[0]}")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert len(css.content) > 1000


def test_api_docs_work_without_internet(gunicorn_server):
    docs = httpx.get(f"{gunicorn_server.url}/api/docs/")
    assert docs.status_code == 200
    scripts = re.findall(r'src="([^"]+)"', docs.text)
    assert scripts and all(src.startswith("/static/") for src in scripts)
    for src in scripts:
        assert httpx.get(f"{gunicorn_server.url}{src}").status_code == 200
    schema = httpx.get(f"{gunicorn_server.url}/api/schema/")
    assert schema.status_code == 200
    assert "/api/agents/" in schema.text


def test_two_hosts_share_one_database(gunicorn_factory, make_user):
    make_user("admin", superuser=True)
    host_a, host_b = gunicorn_factory(workers=2), gunicorn_factory(workers=2)
    auth = {"Authorization": basic_auth("admin")}
    created = httpx.post(f"{host_a.url}/api/agents/", json={"display_name": "Shared"},
                         headers=auth)
    assert created.status_code == 201
    seen = httpx.get(f"{host_b.url}/api/agents/shared/", headers=auth)
    assert seen.status_code == 200
    assert seen.json()["id"] == created.json()["id"]
