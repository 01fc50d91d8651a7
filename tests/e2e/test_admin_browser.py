"""A real browser in the admin, against live gunicorn with DEBUG off.

Every step waits for what it triggers: a click that navigates runs inside
`expect_navigation` (or is followed by `wait_for_url`), and what the page
must show is checked with Playwright's `expect`, which retries until its
timeout; nothing reads `page.content()` right after a click.

Screenshots go to var/test-artifacts/ (TAOS_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import re

import httpx
import pytest

from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    chromium_available,
    screenshot,
)
from tests.support.deploy_command import DeployCommand
from tests.support.http_auth import PASSWORD, basic_auth
from tests.support.task_workers import TaskWorker

pytestmark = [pytest.mark.live]

if not chromium_available():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing; .ci/run installs it")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)

AGENT_PAGE = re.compile(r"/admin/agents/agent/(\d+)/change/$")


@pytest.fixture
def recorder(tmp_path) -> DeployCommand:
    return DeployCommand(tmp_path / "deploys.jsonl")


@pytest.fixture
def deploy_env(recorder) -> dict[str, str]:
    """A deploy backend whose command fails (exit 3) after printing a few log lines."""
    return {"DEPLOY_BACKEND": "command", "DEPLOY_COMMAND": recorder.command(exit=3, lines=3)}


@pytest.fixture
def server(gunicorn_factory, deploy_env):
    return gunicorn_factory(workers=4, **deploy_env)


@pytest.fixture
def page(server, make_user):
    from playwright.sync_api import sync_playwright

    make_user("root", superuser=True)
    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM calls are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server.url,
                                      viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def click_and_wait(page, selector: str) -> None:
    """Click `selector` and wait for the navigation it starts to load."""
    with page.expect_navigation():
        page.click(selector)


def login(page) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    click_and_wait(page, "input[type=submit]")
    page.wait_for_url("**/admin/")
    expect()(page.locator("#fleet-summary")).to_be_visible()


def api(server, path: str) -> httpx.Response:
    # The ORM is not used while Playwright runs (its event loop would give the
    # test a second database connection); the API tells what was saved.
    return httpx.get(f"{server.url}{path}", headers={"Authorization": basic_auth("root")})


def agents_named(server, display_name: str) -> list[str]:
    listed = api(server, "/api/agents/?page_size=200").json()["results"]
    return [a["name"] for a in listed if a["display_name"] == display_name]


def messages(page):
    return page.locator("ul.messagelist")


def test_admin_login_is_styled_and_creates_an_agent(page, server):
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
    click_and_wait(page, "input[name=_save]")
    page.wait_for_url(AGENT_PAGE)
    expect()(messages(page)).to_contain_text("was added successfully")
    expect()(page.locator(".field-name .readonly")).to_have_text("browser-bot")
    screenshot(page, "03-agent-created")
    saved = api(server, "/api/agents/browser-bot/")
    assert saved.status_code == 200
    assert saved.json()["framework"] == "smolagents"


def double_click_save(page) -> None:
    """Submit the form twice at once from the page, then double-click Save.

    Chromium often folds a double click into one navigation, so two submits racing
    each other are sent by the page itself first: the form's own data (its
    CSRF token and key, and `_save` as the button adds it) POSTed twice
    concurrently with the browser's session. The double click follows and
    the browser lands where the answer leads.
    """
    page.evaluate("""async () => {
        const form = document.querySelector("#agent_form");
        const submit = () => {
            const data = new FormData(form);
            data.append("_save", "Save");
            return fetch(location.href, {method: "POST", body: data, redirect: "manual"});
        };
        await Promise.all([submit(), submit()]);
    }""")
    # Chromium may start a navigation per click, the second aborting the first
    # (net::ERR_ABORTED): wait for where the page ends up, not for one navigation.
    page.dblclick("input[name=_save]", no_wait_after=True)


def test_a_double_click_on_save_makes_one_agent_and_back_then_save_lands_on_it(page, server):
    login(page)
    page.goto("/admin/agents/agent/add/")
    page.fill("#id_display_name", "Double Click")
    double_click_save(page)
    page.wait_for_url(AGENT_PAGE)
    posts = server.log_tail(lines=500).count('"POST /admin/agents/agent/add/')
    assert posts >= 3, "the form was not submitted three times"
    expect()(messages(page)).to_contain_text("was added successfully")
    screenshot(page, "09-double-click-one-agent")
    first_page = page.url
    assert agents_named(server, "Double Click") == ["double-click"]

    # Back to the form as rendered (same key), save again: the first save's page.
    page.go_back()
    page.wait_for_url(re.compile(r"/admin/agents/agent/add/\?_idempotency_key=form-"))
    page.fill("#id_display_name", "Double Click")
    click_and_wait(page, "input[name=_save]")
    page.wait_for_url(AGENT_PAGE)
    assert page.url == first_page
    expect()(messages(page)).to_contain_text("was added successfully")
    screenshot(page, "10-back-and-save-same-agent")
    assert agents_named(server, "Double Click") == ["double-click"]


def _secret_on_page(page) -> str:
    secret_box = page.locator("code.token-secret")
    expect()(secret_box).to_have_count(1)
    secret = secret_box.inner_text().strip()
    assert secret.startswith("taos_")
    return secret


def _me(server, secret: str) -> int:
    return httpx.get(f"{server.url}/api/agent/me/",
                     headers={"Authorization": f"Bearer {secret}"}).status_code


def _run_action(page, action: str) -> None:
    page.check("input.action-select")
    page.select_option("select[name=action]", action)
    click_and_wait(page, "button[name=index]")


def confirm(page) -> None:
    """Answer the confirmation page that a destructive act shows first."""
    expect()(page.locator("a.cancel-link")).to_be_visible()
    click_and_wait(page, "input[name=confirm]")


@pytest.fixture
def token_bot(server):
    from agents.services import agent_create

    return agent_create(display_name="Token Bot")


def test_admin_issues_rotates_and_revokes_a_token_showing_each_secret_once(
        token_bot, page, server):
    login(page)

    # Issue: the secret is on the page that answers the POST, and only there.
    page.goto("/admin/tokens/agenttoken/add/")
    page.select_option("#id_agent", label="token-bot")
    click_and_wait(page, "input[name=_save]")
    first = _secret_on_page(page)
    screenshot(page, "04-token-issued-secret-once")
    assert _me(server, first) == 200

    page.goto("/admin/tokens/agenttoken/")
    expect()(page.locator("#result_list")).to_contain_text("token-bot")
    assert first not in page.content()
    click_and_wait(page, "#result_list a:text('taos_')")
    expect()(page.locator("#content h2").first).to_be_visible()
    assert first not in page.content()
    page.reload()
    expect()(page.locator("#content")).to_contain_text("token-bot")
    assert first not in page.content()
    screenshot(page, "05-token-after-reload-no-secret")

    # Rotate: a new secret, shown once; the old one stops working at once.
    page.goto("/admin/tokens/agenttoken/?revoked_at__isempty=1")
    _run_action(page, "rotate")
    confirm(page)
    second = _secret_on_page(page)
    assert second != first
    screenshot(page, "06-token-rotated-secret-once")
    assert _me(server, first) == 401
    assert _me(server, second) == 200

    # Revoke: the active token is revoked; its secret is refused.
    page.goto("/admin/tokens/agenttoken/?revoked_at__isempty=1")
    _run_action(page, "revoke")
    confirm(page)
    expect()(messages(page)).to_contain_text("Revoked 1 token(s).")
    screenshot(page, "07-token-revoked")
    assert _me(server, second) == 401


def _run_deploy_jobs(deploy_env: dict[str, str], tmp_path) -> None:
    worker = TaskWorker(env=deploy_env, args=("--batch",),
                        log_path=tmp_path / "worker.log").start()
    try:
        assert worker.wait(timeout=120) == 0, worker.log()
    finally:
        worker.stop()


def test_the_agent_page_issues_rotates_revokes_deploys_retries_and_archives(
        token_bot, page, server, deploy_env, recorder, tmp_path):
    login(page)
    page.goto("/admin/agents/agent/")
    click_and_wait(page, "#result_list a:text('token-bot')")
    expect()(page.locator("#token-panel")).to_contain_text("No active token.")
    agent_page = page.url

    # Issue and rotate: each secret once, on the page answering the button.
    click_and_wait(page, "#token-panel input[name=issue]")
    first = _secret_on_page(page)
    assert _me(server, first) == 200
    click_and_wait(page, "a.button:text('Done')")
    expect()(page.locator("#token-panel .token-prefix")).to_have_text(first[:13] + "…")
    assert first not in page.content()
    click_and_wait(page, "#token-panel input[name=rotate]")
    confirm(page)
    second = _secret_on_page(page)
    assert (_me(server, first), _me(server, second)) == (401, 200)
    page.goto(agent_page)

    # Revoke.
    click_and_wait(page, "#token-panel input[name=revoke]")
    confirm(page)
    expect()(messages(page)).to_contain_text("Revoked the agent's token.")
    expect()(page.locator("#token-panel")).to_contain_text("No active token.")
    assert _me(server, second) == 401

    # Deploy: queued; the worker runs the (failing) command; the page shows it.
    click_and_wait(page, "#deploy-panel input[name=deploy]")
    expect()(messages(page)).to_contain_text("queued.")
    expect()(page.locator("#deploy-panel .deploy-state").first).to_have_text("queued")
    _run_deploy_jobs(deploy_env, tmp_path)
    page.reload()
    expect()(page.locator("#deploy-panel .deploy-state").first).to_have_text("failed")
    expect()(page.locator("#deploy-panel pre.deploy-log").first).to_be_visible()
    # The deploy gave the agent a token again (the job rotated it).
    expect()(page.locator("#token-panel .token-prefix")).to_be_visible()
    screenshot(page, "11-agent-page-failed-deploy")

    # Retry: queued again, run again (attempt 2).
    click_and_wait(page, "#deploy-panel input[name=retry]")
    expect()(messages(page)).to_contain_text("Retried:")
    _run_deploy_jobs(deploy_env, tmp_path)
    page.reload()
    expect()(page.locator("#deploy-panel .deploy-state").first).to_have_text("failed")
    assert len(recorder.starts()) == 2

    # Archive, revoking the token as chosen in the form.
    click_and_wait(page, "#token-panel a.archivelink")
    expect()(page.locator("#content")).to_contain_text("keeps working")
    page.check("#id_revoke_token")
    click_and_wait(page, "input[name=archive]")
    expect()(messages(page)).to_contain_text("Archived the agent and revoked its token.")
    assert api(server, "/api/agents/token-bot/").json()["status"] == "archived"
    assert api(server, "/api/agents/token-bot/token/").status_code == 404

    # The index counts it: one archived agent.
    page.goto("/admin/")
    expect()(page.locator("#fleet-summary .fleet-archived")).to_have_text("1")
    screenshot(page, "12-admin-index-fleet")


def test_admin_shows_the_idempotency_records_of_api_creates(page, server):
    key = "browser-test-key-0001"
    response = httpx.post(f"{server.url}/api/agents/",
                          json={"display_name": "Keyed Bot"},
                          headers={"Authorization": basic_auth("root"), "Idempotency-Key": key})
    assert response.status_code == 201
    login(page)
    page.goto("/admin/idempotency/idempotencyrecord/")
    row = page.locator("#result_list tbody tr", has_text=key)
    expect()(row).to_have_count(1)
    expect()(row).to_contain_text("POST")
    expect()(row).to_contain_text("/api/agents/")
    screenshot(page, "08-idempotency-records")
    page.goto(f"/admin/idempotency/idempotencyrecord/?q={key}")
    expect()(page.locator("#result_list tbody tr")).to_have_count(1)
