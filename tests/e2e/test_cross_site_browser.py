"""A page on another origin cannot make the API act with a browser's ambient credentials.

Headless Chromium against live gunicorn (HTTP Basic turned on, as a
scripting site would): a page served by a second local web server posts
forms (urlencoded, multipart, text/plain) and bodiless no-cors fetches to
the token and create endpoints, once with Basic credentials the browser has
cached and once with the admin's session cookie. Every one is refused (415)
and nothing changes; the same credentials do work on the site itself.
"""

from __future__ import annotations

import os

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available, screenshot
from tests.support.http_auth import PASSWORD, basic_auth
from tests.support.other_origin import serve_pages

pytestmark = [pytest.mark.live]

if not chromium_available():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing; .ci/run installs it")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)


def attack_pages(api: str, slug: str) -> dict[str, str]:
    rotate = f"{api}/api/agents/{slug}/token/rotate/"
    issue = f"{api}/api/agents/{slug}/token/"
    create = f"{api}/api/agents/"

    def form(action: str, enctype: str, fields: str) -> str:
        return (f'<form method="POST" action="{action}" enctype="{enctype}">{fields}</form>'
                "<script>document.forms[0].submit()</script>")

    return {
        "/rotate-urlencoded": form(rotate, "application/x-www-form-urlencoded",
                                   '<input name="x" value="1">'),
        "/issue-multipart": form(issue, "multipart/form-data", '<input name="x" value="1">'),
        # The classic trick: a text/plain form whose body is JSON.
        "/create-text-plain": form(create, "text/plain",
                                   '<input name=\'{"display_name": "Evil", "x": "\' value=\'"}\'>'),
        "/blank": "<p>another site</p>",
    }


FETCHES = [
    # A "simple" request: no preflight, credentials included, body-less.
    "fetch(URL + '/token/rotate/', {method: 'POST', mode: 'no-cors', credentials: 'include'})",
    "fetch(URL + '/token/', {method: 'POST', mode: 'no-cors', credentials: 'include', "
    "body: '{}'})",
]


def run_attacks(page, evil: str, api: str, slug: str, label: str,
                credential: str) -> list[str]:
    """Run every attack from the other origin; return what the browser saw of each.

    Check that the browser did send `credential` (a request header) with
    every attack: the refusal is the site's, not the browser's.
    """
    seen = []
    posts = []
    page.on("request", lambda request: posts.append(request)
            if request.method == "POST" and request.url.startswith(api) else None)
    for path in ("/rotate-urlencoded", "/issue-multipart", "/create-text-plain"):
        page.goto(f"{evil}{path}")
        page.wait_for_url(f"{api}/**")
        page.wait_for_load_state()
        seen.append(page.content())
        screenshot(page, f"cross-site-{label}{path.replace('/', '-')}")
    page.goto(f"{evil}/blank")
    for script in FETCHES:
        kind = page.evaluate(f"URL => {script}.then(r => r.type)", f"{api}/api/agents/{slug}")
        assert kind == "opaque"  # sent, and the page cannot read the answer
    assert len(posts) == 5
    # The forms (navigations) carry the credential; whether Chromium attaches
    # a cookie to a no-cors fetch from another port varies, so only the
    # forms are held to it.
    for request in posts[:3]:
        headers = request.all_headers()
        assert credential in headers, (request.url, headers)
        assert headers.get("referer", "").startswith(evil)  # made by the other site's page
    return seen


@pytest.fixture
def site(gunicorn_factory, make_user):
    from agents.services import agent_create
    from tokens.services import token_issue

    make_user("root", superuser=True)
    agent = agent_create(display_name="Target Bot")
    token = token_issue(agent=agent).token
    server = gunicorn_factory(workers=2, TAOS_API_BASIC_AUTH="1")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield server, agent, token
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def assert_nothing_changed(agent, token) -> None:
    from agents.models import Agent
    from tokens.models import AgentToken

    assert list(AgentToken.objects.filter(agent=agent)) == [token]
    token.refresh_from_db()
    assert token.revoked_at is None
    assert not Agent.objects.filter(display_name="Evil").exists()
    assert Agent.objects.count() == 1


def test_cached_basic_credentials_do_not_work_from_another_site(site):
    from playwright.sync_api import sync_playwright

    server, agent, token = site
    with serve_pages(attack_pages(server.url, agent.name)) as evil, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # What a browser does once it has cached the operator's password for
        # the site: it sends it with every request there, also one another
        # site's page makes. (Playwright's http_credentials answer a challenge,
        # which this site never sends; so the header is set on every request.)
        context = browser.new_context(extra_http_headers={"Authorization": basic_auth("root")})
        page = context.new_page()
        page.set_default_timeout(15_000)
        control = page.goto(f"{server.url}/api/agents/")
        assert control.status == 200  # the credentials are sent and work on the site itself
        seen = run_attacks(page, evil, server.url, agent.name, "basic", "authorization")
        browser.close()
    assert all("unsupported_media_type" in body for body in seen), seen
    assert_nothing_changed(agent, token)


def test_a_session_cookie_does_not_work_from_another_site(site):
    from playwright.sync_api import sync_playwright

    server, agent, token = site
    with serve_pages(attack_pages(server.url, agent.name)) as evil, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{server.url}/admin/login/")
        page.fill("#id_username", "root")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        control = page.goto(f"{server.url}/api/agents/")
        assert control.status == 200  # the session works on the site itself
        seen = run_attacks(page, evil, server.url, agent.name, "session", "cookie")
        browser.close()
    assert all("unsupported_media_type" in body for body in seen), seen
    assert_nothing_changed(agent, token)


def test_the_api_never_asks_a_browser_for_a_password(gunicorn_server):
    import httpx

    response = httpx.get(f"{gunicorn_server.url}/api/agents/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
