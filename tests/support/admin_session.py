"""A browser-like admin session over plain HTTP: log in, render a form, post it many times."""

from __future__ import annotations

import asyncio
import re

import httpx

from idempotency.forms import FORM_KEY_FIELD
from tests.support.admin_pages import KEY_RE, SECRET_RE
from tests.support.http_auth import PASSWORD

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def admin_login(base_url: str, username: str, password: str = PASSWORD) -> httpx.Client:
    """Return an httpx client holding a logged-in admin session on `base_url`."""
    client = httpx.Client(base_url=base_url, timeout=60)
    page = client.get("/admin/login/")
    csrf = CSRF_RE.findall(page.text)[0]  # the logout form has one too
    answer = client.post("/admin/login/", data={
        "csrfmiddlewaretoken": csrf, "username": username, "password": password,
        "next": "/admin/",
    })
    assert answer.status_code == 302, answer.text[:500]
    return client


def rendered_form(client: httpx.Client, path: str) -> dict[str, str]:
    """Render the form at `path` once; return its CSRF token and one-time key as form data."""
    page = client.get(path, follow_redirects=True)  # to the form's URL with its key
    assert page.status_code == 200, page.text[:500]
    csrf = CSRF_RE.findall(page.text)[0]  # the logout form has one too
    [key] = KEY_RE.findall(page.text)
    return {"csrfmiddlewaretoken": csrf, FORM_KEY_FIELD: key}


def post_concurrently(client: httpx.Client, path: str, data: dict, times: int
                      ) -> list[httpx.Response]:
    """POST the same form `times` times at once with the session of `client`; no redirects."""
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=str(client.base_url), cookies=client.cookies,
                                     headers={"Referer": f"{client.base_url}{path}"},
                                     timeout=60) as racer:
            return await asyncio.gather(*(racer.post(path, data=data) for _ in range(times)))
    return asyncio.run(run())
