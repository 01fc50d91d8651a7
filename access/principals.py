"""Who is calling: the one name that idempotency keys and rate limits are scoped to."""

from __future__ import annotations

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
