"""Who is calling: the one name that idempotency keys and rate limits are scoped to."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request


def principal_for(request: Request) -> str | None:
    """Return `agent:<id>` or `user:<id>` for an authenticated request, else None.

    Called after DRF authenticated the request. An agent token's principal
    carries `.agent`; an operator token or a session is its Django user. Keys
    of different principals are independent: one never sees another's stored
    response.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    agent = getattr(user, "agent", None)
    if agent is not None:
        return f"agent:{agent.pk}"
    return f"user:{user.pk}"


def log_principal_for(request: Any) -> str | None:
    """Return who made `request`, for its log line (REQUEST_CONTEXT_PRINCIPAL); ids only.

    `agent:<id>` for an agent token, `operatortoken:<id>` for an operator
    token, `user:<id>` for a session or a password (Basic); None when
    anonymous. Never a token, a secret or a user name.
    """
    principal = principal_for(request)
    if principal is None or principal.startswith("agent:"):
        return principal
    auth = getattr(request, "auth", None)
    meta = getattr(auth, "_meta", None)
    if meta is not None and getattr(auth, "pk", None) is not None:
        return f"{meta.model_name}:{auth.pk}"
    return principal
