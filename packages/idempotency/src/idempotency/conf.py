"""The package's settings: each `IDEMPOTENCY_<NAME>` with its default, read at call time.

A project sets only what differs from `DEFAULTS` in its settings module;
every value is read when it is used, never bound at import, so
`override_settings` and per-test settings apply at once.

| setting | default | meaning |
|---|---|---|
| `IDEMPOTENCY_WAIT_SECONDS` | `10` | how long a request waits for another one holding its key, then 409 |
| `IDEMPOTENCY_TTL_SECONDS` | `86400` | how long a completed key is kept and replayed |
| `IDEMPOTENCY_WAITERS_PER_KEY` | `2` | how many requests of one key wait for its holder at once (0 to 15); the rest 409 at once |
| `IDEMPOTENCY_REQUIRED` | `False` | opted-in views refuse an unsafe request without a key (400) |
| `IDEMPOTENCY_CACHE_ALIAS` | `""` | a cache alias (Redis) that also keeps completed responses; empty: none |
| `IDEMPOTENCY_SLOT_DIR` | `""` | SQLite: the directory of the key slots' lock files; empty: beside the database file |
| `IDEMPOTENCY_PRINCIPAL` | `"idempotency.conf.user_principal"` | dotted path of `(request) -> str | None`: whom a key belongs to |
| `IDEMPOTENCY_ERROR_RESPONSE` | `"idempotency.errors.json_error_response"` | dotted path of `(error) -> HttpResponse` |
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:  # a settings module may import DEFAULTS: nothing heavy at import
    from django.http import HttpRequest, HttpResponseBase
    from rest_framework.request import Request

    from idempotency.errors import IdempotencyError

PREFIX = "IDEMPOTENCY_"

DEFAULTS: dict[str, Any] = {
    "WAIT_SECONDS": 10,
    "TTL_SECONDS": 86400,
    "WAITERS_PER_KEY": 2,
    "REQUIRED": False,
    "CACHE_ALIAS": "",
    "SLOT_DIR": "",
    "PRINCIPAL": "idempotency.conf.user_principal",
    "ERROR_RESPONSE": "idempotency.errors.json_error_response",
}


def get(name: str) -> Any:
    """Return the setting `IDEMPOTENCY_<name>`, or its default."""
    return getattr(settings, PREFIX + name, DEFAULTS[name])


@functools.cache
def _callable(path: str) -> Callable[..., Any]:
    return import_string(path)


def hook(name: str) -> Callable[..., Any]:
    """Return the callable the setting `IDEMPOTENCY_<name>` names (a dotted path, or a callable)."""
    value = get(name)
    return value if callable(value) else _callable(value)


def principal_of(request: Request | HttpRequest) -> str | None:
    """Return whom `request`'s keys belong to (IDEMPOTENCY_PRINCIPAL), None for nobody."""
    return hook("PRINCIPAL")(request)


def error_response(error: IdempotencyError) -> HttpResponseBase:
    """Return the response that answers `error` (IDEMPOTENCY_ERROR_RESPONSE)."""
    return hook("ERROR_RESPONSE")(error)


def user_principal(request: Request | HttpRequest) -> str | None:
    """Return `user:<pk>` for an authenticated `request.user`, else None.

    The default of IDEMPOTENCY_PRINCIPAL. Called after DRF authenticated the
    request. At most 64 characters (the table's column).
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return f"user:{user.pk}"
