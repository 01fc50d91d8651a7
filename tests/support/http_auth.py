"""HTTP credentials for requests in tests: Basic for users, Bearer for tokens."""

from __future__ import annotations

import base64

# The password of every user the `make_user` fixture makes.
PASSWORD = "correct-horse-battery"


def basic_auth(username: str, password: str = PASSWORD) -> str:
    """Return an `Authorization` header value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def bearer(secret: str) -> dict[str, str]:
    """Return the test client's keyword for an `Authorization: Bearer` header."""
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
