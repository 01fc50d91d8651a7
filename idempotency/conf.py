"""The app's settings with their defaults, read at call time."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "IDEMPOTENCY_WAIT_SECONDS": 10,
    "IDEMPOTENCY_TTL_SECONDS": 86400,
    "IDEMPOTENCY_REQUIRED": False,
    "IDEMPOTENCY_CACHE_ALIAS": "",
}


def setting(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])
