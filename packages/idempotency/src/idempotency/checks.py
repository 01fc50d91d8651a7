"""System checks: the middleware the decorator relies on, and sane settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

from idempotency.waiters import MAX_SLOTS

MIDDLEWARE_PATH = "idempotency.middleware.IdempotencyMiddleware"


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if MIDDLEWARE_PATH not in settings.MIDDLEWARE:
        errors.append(Error(
            f"{MIDDLEWARE_PATH} is not in MIDDLEWARE.",
            hint="@idempotent views need it to own their transaction; add it last.",
            id="idempotency.E001",
        ))
    for name in ("IDEMPOTENCY_WAIT_SECONDS", "IDEMPOTENCY_TTL_SECONDS"):
        value = getattr(settings, name)
        if not isinstance(value, (int, float)) or value <= 0:
            errors.append(Error(f"{name} must be a positive number, got {value!r}.",
                                id="idempotency.E002"))
    waiters = settings.IDEMPOTENCY_WAITERS_PER_KEY
    if not isinstance(waiters, int) or not 0 <= waiters < MAX_SLOTS:
        errors.append(Error(
            f"IDEMPOTENCY_WAITERS_PER_KEY must be an integer from 0 to {MAX_SLOTS - 1}, "
            f"got {waiters!r}.", id="idempotency.E003"))
    return errors

