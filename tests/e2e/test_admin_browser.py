"""A real browser in the admin, against live gunicorn with DEBUG off.

Screenshots go to var/test-artifacts/ (TAOS_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os

import pytest

from agents.models import Agent
from tests.conftest import PASSWORD
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available, screenshot

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


def test_admin_login_is_styled_and_creates_an_agent(page):
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
    assert Agent.objects.filter(name="browser-bot", framework="smolagents").exists()
