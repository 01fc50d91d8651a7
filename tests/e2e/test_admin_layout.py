"""Every admin page and custom view in Chromium at 1280x800 and 1920x1080, light and dark.

Each page is checked in the browser (tests/support/layout.py): nothing
overflows the window sideways, no list column is under the filter panel or
scrolled out of view, the admin's CSS (and the console's) is loaded, and the
colour scheme follows the system's. Screenshots go to var/screenshots/
(TAOS_SCREENSHOTS), one per page and mode: CI keeps them as artifacts.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available
from tests.support.http_auth import PASSWORD
from tests.support.layout import brightness, layout_problems, save_screenshot

pytestmark = [pytest.mark.live]

if not chromium_available():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing; .ci/run installs it")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)

SIZES = [(1280, 800), (1920, 1080)]
SCHEMES = ["light", "dark"]
FAILURE_LIMIT = 3
LOCKED_OUT_ADDRESS = "192.0.2.77"
LONG_ERROR = ("The deploy command exited with status 3. " * 6).strip()


@pytest.fixture
def fleet(make_user):
    """A fleet with every kind of row: tokens, deploys of each outcome, an archived agent."""
    from agents.models import Agent
    from agents.services import agent_create
    from deploys.models import DeployTask
    from deploys.services import deploy_create
    from idempotency.models import IdempotencyRecord
    from tokens import services as token_services

    root = make_user("root", superuser=True)
    research = agent_create(display_name="Research Bot", framework="smolagents",
                            model="qwen2.5:7b", host="host-a.example", color="#1e90ff")
    token_services.token_issue(agent=research, actor=root)
    failed = deploy_create(display_name="Mail Bot With A Long Display Name",
                           framework="smolagents", model="qwen2.5:7b", actor=root)
    DeployTask.objects.filter(pk=failed.pk).update(
        state="failed", error=LONG_ERROR, log_tail="[taos] starting\nline 1\nline 2\n" * 4)
    Agent.objects.filter(pk=failed.agent_id).update(status="failed")
    skipped = deploy_create(display_name="Skipped Bot", framework="langgraph", model="m",
                            actor=root)
    archived = agent_create(display_name="Old Bot")
    Agent.objects.filter(pk=archived.pk).update(status="archived")
    operator = token_services.operator_token_create(user=root, name="ci script")
    now = timezone.now()
    record = IdempotencyRecord.objects.create(
        principal=f"user:{root.pk}", key="layout-test-key-0001", method="POST",
        path="/api/agents/", fingerprint="f" * 64, response_status=201, response_body=b"{}",
        response_headers={}, expires_at=now + timedelta(hours=1))
    return {"research": research, "failed": failed, "skipped": skipped,
            "operator": operator.token, "record": record,
            "agent_token": token_services.AgentToken.objects.active().get(agent=research)}


def admin_pages(fleet) -> dict[str, str]:
    """Return every admin page to look at, by a short name: lists, forms and custom views."""
    agent = f"/admin/agents/agent/{fleet['research'].pk}"
    return {
        "index": "/admin/",
        "agents": "/admin/agents/agent/",
        "agents-all": "/admin/agents/agent/?status=all",
        "agent-page": f"{agent}/change/",
        "agent-page-failed": f"/admin/agents/agent/{fleet['failed'].agent_id}/change/",
        "agent-add": "/admin/agents/agent/add/",
        "deploy-new": "/admin/agents/agent/deploy-new/",
        "archive": f"{agent}/archive/",
        "confirm-revoke": f"{agent}/token/revoke/",
        "confirm-rotate": f"{agent}/token/rotate/",
        "agent-tokens": "/admin/tokens/agenttoken/",
        "agent-token": f"/admin/tokens/agenttoken/{fleet['agent_token'].pk}/change/",
        "agent-token-add": "/admin/tokens/agenttoken/add/",
        "operator-tokens": "/admin/tokens/operatortoken/",
        "operator-token": f"/admin/tokens/operatortoken/{fleet['operator'].pk}/change/",
        "operator-token-add": "/admin/tokens/operatortoken/add/",
        "deploy-tasks": "/admin/deploys/deploytask/",
        "deploy-task": f"/admin/deploys/deploytask/{fleet['failed'].pk}/change/",
        "idempotency-keys": "/admin/idempotency/idempotencyrecord/",
        "idempotency-key": f"/admin/idempotency/idempotencyrecord/{fleet['record'].pk}/change/",
        "users": "/admin/auth/user/",
        "agent-history": f"{agent}/history/",
    }


@pytest.fixture
def browser_context(gunicorn_factory, fleet):
    from playwright.sync_api import sync_playwright

    # The lockout page is reached from a forwarded address of its own, so that
    # the lockout never reaches 127.0.0.1, whose logins the other tests need.
    server = gunicorn_factory(workers=2, DEPLOY_BACKEND="", DEPLOY_COMMAND="",
                              TAOS_AUTH_FAILURE_LIMIT=str(FAILURE_LIMIT),
                              TAOS_TRUSTED_PROXIES="127.0.0.1")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server.url,
                                      viewport={"width": 1280, "height": 800})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        yield context
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def login(page, username: str = "root", password: str = PASSWORD):
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("input[type=submit]")


def look(page, name: str, problems: dict[str, list[str]]) -> None:
    """Check the current page in each size and scheme; screenshot each; collect problems."""
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            mode = f"{name}-{width}x{height}-{scheme}"
            found = layout_problems(page)
            lightness = brightness(page)
            if (scheme == "dark") != (lightness < 0.5):
                found.append(f"{scheme} scheme but a background of brightness {lightness:.2f}")
            if found:
                problems[mode] = found
            save_screenshot(page, mode)


def test_every_admin_page_fits_both_sizes_in_light_and_dark(browser_context, fleet):
    page = browser_context.new_page()
    page.set_default_timeout(20_000)
    login(page)
    problems: dict[str, list[str]] = {}
    for name, url in admin_pages(fleet).items():
        response = page.goto(url)
        assert response.status == 200, (name, url, response.status)
        look(page, name, problems)

    # The secret page: issue a token for an agent that has none.
    page.goto(f"/admin/agents/agent/{fleet['skipped'].agent_id}/change/")
    page.goto(f"/admin/agents/agent/{fleet['failed'].agent_id}/token/revoke/")
    with page.expect_navigation():
        page.click("input[name=confirm]")
    with page.expect_navigation():
        page.click("#token-panel input[name=issue]")
    assert page.locator("code.token-secret").count() == 1
    look(page, "secret", problems)

    # The lockout page, last, from another (forwarded) address.
    anonymous = browser_context.browser.new_context(
        base_url=page.url.split("/admin")[0], viewport={"width": 1280, "height": 800},
        extra_http_headers={"X-Forwarded-For": LOCKED_OUT_ADDRESS})
    locked = anonymous.new_page()
    for _ in range(FAILURE_LIMIT + 1):
        login(locked, "nobody", "wrong-password")
    assert "Too many failed logins" in locked.content()
    look(locked, "lockout", problems)
    anonymous.close()
    assert problems == {}, "\n".join(f"{mode}: {found}" for mode, found in problems.items())


def test_revoke_asks_first_and_the_copy_button_puts_the_secret_in_the_clipboard(
        browser_context, fleet):
    page = browser_context.new_page()
    page.set_default_timeout(20_000)
    login(page)
    agent_page = f"/admin/agents/agent/{fleet['research'].pk}/change/"
    page.goto(agent_page)
    with page.expect_navigation():
        page.click("#token-panel input[name=revoke]")
    assert "Revoke the token of research-bot?" in page.content()
    with page.expect_navigation():
        page.click("a.cancel-link")  # Cancel: back, nothing revoked
    assert page.locator("#token-panel .token-prefix").count() == 1

    with page.expect_navigation():
        page.click("#token-panel input[name=rotate]")
    with page.expect_navigation():
        page.click("input[name=confirm]")
    secret = page.locator("code.token-secret").inner_text().strip()
    assert secret.startswith("taos_")
    page.click("button.copy-secret")
    page.wait_for_selector("#copied-1:has-text('Copied.')")
    assert page.evaluate("navigator.clipboard.readText()") == secret
