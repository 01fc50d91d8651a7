"""System checks: the middleware that keeps the body readable, sane settings, the engine's own."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured

from idempotency import conf, engines
from idempotency.engines.slots import MAX_SLOTS
from idempotency.protocol import MIDDLEWARE_PATH


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if MIDDLEWARE_PATH not in settings.MIDDLEWARE:
        errors.append(Error(
            f"{MIDDLEWARE_PATH} is not in MIDDLEWARE.",
            hint="@idempotent views need it to read the request body (for its fingerprint) "
                 "before an authenticator's parser streams it.",
            id="idempotency.E001",
        ))
    for name in ("WAIT_SECONDS", "TTL_SECONDS"):
        value = conf.get(name)
        if not isinstance(value, (int, float)) or value <= 0:
            errors.append(Error(f"{conf.PREFIX}{name} must be a positive number, got {value!r}.",
                                id="idempotency.E002"))
    waiters = conf.get("WAITERS_PER_KEY")
    if not isinstance(waiters, int) or not 0 <= waiters < MAX_SLOTS:
        errors.append(Error(
            f"IDEMPOTENCY_WAITERS_PER_KEY must be an integer from 0 to {MAX_SLOTS - 1}, "
            f"got {waiters!r}.", id="idempotency.E003"))
    for name in ("PRINCIPAL", "ERROR_RESPONSE"):
        try:
            conf.hook(name)
        except ImportError as exc:
            errors.append(Error(f"{conf.PREFIX}{name} names no callable: {exc}",
                                id="idempotency.E004"))
    try:
        errors += engines.current().check()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="idempotency.E005"))
    return errors
