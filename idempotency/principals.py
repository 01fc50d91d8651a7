"""Who an idempotency key belongs to."""

from __future__ import annotations

from rest_framework.request import Request


def principal_for(request: Request) -> str | None:
    """Return the principal that scopes `request`'s Idempotency-Key, or None.

    Called after DRF authenticated the request. Keys of different principals
    are independent: one never sees another's stored response. None (no
    authenticated principal) means the request cannot be made idempotent.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return f"user:{user.pk}"
