"""How the load authenticates: pluggable, and paid once per run, not per request.

An auth method is `async def method(url, operator) -> Credentials`: it
obtains credentials once (paying the password hasher at most once) and the
load then sends the same headers and cookies with every request.

- `session` (the default, available now): log in to the admin once, reuse
  the session cookie and send the CSRF token in `X-CSRFToken`.

Once operator tokens exist, register a method that issues one and returns
`Credentials(headers={"Authorization": f"Bearer {token}"})`, then run with
`--auth NAME` (see docs/bench.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from bench.engines import Operator

CHECK_PATH = "/api/agents/?page_size=1"


@dataclass(frozen=True)
class Credentials:
    method: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


AuthMethod = Callable[[str, Operator], Awaitable[Credentials]]
AUTH_METHODS: dict[str, AuthMethod] = {}


def auth_method(name: str) -> Callable[[AuthMethod], AuthMethod]:
    """Register the decorated function as the auth method `name`."""
    def register(method: AuthMethod) -> AuthMethod:
        if name in AUTH_METHODS:
            raise ValueError(f"auth method {name!r} is registered already")
        AUTH_METHODS[name] = method
        return method
    return register


async def authenticate(name: str, url: str, operator: Operator) -> Credentials:
    """Obtain credentials with method `name` and check that the API accepts them."""
    try:
        method = AUTH_METHODS[name]
    except KeyError:
        raise ValueError(f"unknown auth method {name!r}; known: {', '.join(AUTH_METHODS)}") from None
    credentials = await method(url, operator)
    async with httpx.AsyncClient(base_url=url, headers=credentials.headers,
                                 cookies=credentials.cookies, timeout=30) as client:
        response = await client.get(CHECK_PATH)
    if response.status_code != 200:
        raise RuntimeError(
            f"auth method {name!r}: GET {CHECK_PATH} answered {response.status_code}: "
            f"{response.text[:300]}"
        )
    return credentials


@auth_method("session")
async def session_login(url: str, operator: Operator) -> Credentials:
    """Log in through the admin login form once; return its session and CSRF token."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        form = await client.get("/admin/login/")
        form.raise_for_status()
        response = await client.post("/admin/login/", data={
            "username": operator.username,
            "password": operator.password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
            "next": "/admin/",
        })
        if response.status_code != 302 or "sessionid" not in client.cookies:
            raise RuntimeError(
                f"admin login as {operator.username!r} failed: {response.status_code}"
            )
        # Login rotates the CSRF token: take the new one.
        csrf = client.cookies["csrftoken"]
        return Credentials(
            method="session",
            headers={"X-CSRFToken": csrf},
            cookies={"sessionid": client.cookies["sessionid"], "csrftoken": csrf},
        )
