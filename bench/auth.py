"""How the load authenticates: pluggable, and paid once per site, not per request.

An auth method is `async def method(ctx: AuthContext) -> Credentials`: it
obtains credentials once (paying the password hasher at most once) and the
load then sends the same headers and cookies with every request.

- `operator_token` (the default): create an operator token for the operator
  once with `manage.py create_operator_token`, then send
  `Authorization: Bearer taosop_...`: one query to authenticate a request.
- `session`: log in to the admin once, reuse the session cookie and send the
  CSRF token in `X-CSRFToken`: two queries (the session, the user).

The `auth_queries` measure (bench/scenarios/tokens.py) counts them on every run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from bench.engines import Operator, run_django

CHECK_PATH = "/api/agents/?page_size=1"


@dataclass(frozen=True)
class Credentials:
    method: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthContext:
    """What an auth method gets: the site's URL, its operator, its environment."""

    url: str
    operator: Operator
    env: dict[str, str]


AuthMethod = Callable[[AuthContext], Awaitable[Credentials]]
AUTH_METHODS: dict[str, AuthMethod] = {}


def auth_method(name: str) -> Callable[[AuthMethod], AuthMethod]:
    """Register the decorated function as the auth method `name`."""
    def register(method: AuthMethod) -> AuthMethod:
        if name in AUTH_METHODS:
            raise ValueError(f"auth method {name!r} is registered already")
        AUTH_METHODS[name] = method
        return method
    return register


async def authenticate(name: str, ctx: AuthContext) -> Credentials:
    """Obtain credentials with method `name` and check that the API accepts them."""
    try:
        method = AUTH_METHODS[name]
    except KeyError:
        raise ValueError(f"unknown auth method {name!r}; known: {', '.join(AUTH_METHODS)}") from None
    credentials = await method(ctx)
    async with httpx.AsyncClient(base_url=ctx.url, headers=credentials.headers,
                                 cookies=credentials.cookies, timeout=30) as client:
        response = await client.get(CHECK_PATH)
    if response.status_code != 200:
        raise RuntimeError(
            f"auth method {name!r}: GET {CHECK_PATH} answered {response.status_code}: "
            f"{response.text[:300]}"
        )
    return credentials


@auth_method("session")
async def session_login(ctx: AuthContext) -> Credentials:
    """Log in through the admin login form once; return its session and CSRF token."""
    operator = ctx.operator
    async with httpx.AsyncClient(base_url=ctx.url, timeout=30) as client:
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


@auth_method("operator_token")
async def operator_token(ctx: AuthContext) -> Credentials:
    """Create an operator token for the operator once; return its Bearer header.

    Through the documented command, which prints the secret alone on the
    last line of standard output (it never goes through argv or a log).
    """
    out = await asyncio.to_thread(
        run_django, ctx.env, "manage.py", "create_operator_token", ctx.operator.username,
        "--name", "bench load",
    )
    secret = out.strip().splitlines()[-1].strip()
    if not secret.startswith("taosop_"):
        raise RuntimeError("create_operator_token did not print a taosop_ token")
    return Credentials(method="operator_token", headers={"Authorization": f"Bearer {secret}"})
