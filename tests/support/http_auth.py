"""HTTP credentials for requests in tests: Basic for users, Bearer for tokens.

HTTP Basic is off in production unless TAOS_API_BASIC_AUTH=1; live servers
(harness.live_settings) turn it on, in-process tests that use it set it.
"""

from __future__ import annotations

import base64

# The password of every user the `make_user` fixture makes.
PASSWORD = "correct-horse-battery"


def basic_auth(username: str, password: str = PASSWORD) -> str:
    """Return an `Authorization` header value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def operator_bearer(user, name: str = "tests") -> str:
    """Make an operator token for `user`; return its `Authorization` header value."""
    from tokens.services import operator_token_create

    return f"Bearer {operator_token_create(user=user, name=name).secret}"


def bearer(secret: str) -> dict[str, str]:
    """Return the test client's keyword for an `Authorization: Bearer` header."""
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
