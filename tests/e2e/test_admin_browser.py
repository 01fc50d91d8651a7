"""A real browser in the admin, against live gunicorn with DEBUG off.

Screenshots go to var/test-artifacts/ (TAOS_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os

import httpx
import pytest

from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    chromium_available,
    screenshot,
)
from tests.support.http_auth import PASSWORD, basic_auth

pytestmark = [pytest.mark.live]

if not chromium_available():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing; .ci/run installs it")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)


@pytest.fixture
def page(gunicorn_server, make_user):
    from playwright.sync_api import sync_playwright

    make_user("root", superuser=True)
    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM calls are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=gunicorn_server.url,
                                      viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def login(page) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def test_admin_login_is_styled_and_creates_an_agent(page, gunicorn_server):
    page.goto("/admin/login/")
    # The admin stylesheet is served (whitenoise): the header is coloured, not
    # the browser's default transparent background.
    header_bg = page.eval_on_selector("#header", "e => getComputedStyle(e).backgroundColor")
    assert header_bg not in ("rgba(0, 0, 0, 0)", "transparent")
    screenshot(page, "01-admin-login")

    login(page)
    screenshot(page, "02-admin-index")

    page.goto("/admin/agents/agent/add/")
    page.fill("#id_display_name", "Browser Bot")
    page.fill("#id_framework", "smolagents")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/agents/agent/")
    assert "browser-bot" in page.content()
    screenshot(page, "03-agent-created")
    # The ORM is not used while Playwright runs (its event loop would give the
    # test a second database connection); the API tells what was saved.
    saved = httpx.get(f"{gunicorn_server.url}/api/agents/browser-bot/",
                      headers={"Authorization": basic_auth("root")})
    assert saved.status_code == 200
    assert saved.json()["framework"] == "smolagents"


def _secret_on_page(page) -> str:
    secret = page.inner_text("code.token-secret").strip()
    assert secret.startswith("taos_")
    return secret


def _me(server_url: str, secret: str) -> int:
    return httpx.get(f"{server_url}/api/agent/me/",
                     headers={"Authorization": f"Bearer {secret}"}).status_code


def _run_action(page, action: str) -> None:
    page.check("input.action-select")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


@pytest.fixture
def token_bot(gunicorn_server):
    from agents.services import agent_create

    return agent_create(display_name="Token Bot")


def test_admin_issues_rotates_and_revokes_a_token_showing_each_secret_once(
        token_bot, page, gunicorn_server):
    login(page)

    # Issue: the secret is on the page that answers the POST, and only there.
    page.goto("/admin/tokens/agenttoken/add/")
    page.select_option("#id_agent", label="token-bot")
    page.click("input[name=_save]")
    first = _secret_on_page(page)
    screenshot(page, "04-token-issued-secret-once")
    assert _me(gunicorn_server.url, first) == 200

    page.goto("/admin/tokens/agenttoken/")
    assert first not in page.content()
    page.click("text=token-bot")
    assert first not in page.content()
    page.reload()
    assert first not in page.content()
    screenshot(page, "05-token-after-reload-no-secret")

    # Rotate: a new secret, shown once; the old one stops working at once.
    page.goto("/admin/tokens/agenttoken/?revoked_at__isempty=1")
    _run_action(page, "rotate")
    second = _secret_on_page(page)
    assert second != first
    screenshot(page, "06-token-rotated-secret-once")
    assert _me(gunicorn_server.url, first) == 401
    assert _me(gunicorn_server.url, second) == 200

    # Revoke: the active token is revoked; its secret is refused.
    page.goto("/admin/tokens/agenttoken/?revoked_at__isempty=1")
    _run_action(page, "revoke")
    assert "Revoked 1 token(s)." in page.content()
    screenshot(page, "07-token-revoked")
    assert _me(gunicorn_server.url, second) == 401


def test_admin_shows_the_idempotency_records_of_api_creates(page, gunicorn_server):
    key = "browser-test-key-0001"
    response = httpx.post(f"{gunicorn_server.url}/api/agents/",
                          json={"display_name": "Keyed Bot"},
                          headers={"Authorization": basic_auth("root"), "Idempotency-Key": key})
    assert response.status_code == 201
    login(page)
    page.goto("/admin/idempotency/idempotencyrecord/")
    row = page.locator("#result_list tbody tr", has_text=key)
    assert row.count() == 1
    assert "POST" in row.inner_text() and "/api/agents/" in row.inner_text()
    screenshot(page, "08-idempotency-records")
    page.goto(f"/admin/idempotency/idempotencyrecord/?q={key}")
    assert page.locator("#result_list tbody tr").count() == 1
