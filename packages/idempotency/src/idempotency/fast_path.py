"""Completed responses in Redis: replays served without touching the table.

The database stays the source of truth. An entry is written by a key's
first replay (read from the database), not when the key completes: most
keys are never retried. Entries expire with their row. If Redis fails,
this process logs a warning, answers from the database, and leaves Redis
alone for a few seconds rather than paying a timeout (and a log line) on
every request.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime

from django.core.cache import BaseCache, caches
from django.utils import timezone

from idempotency import conf
from idempotency.stored import StoredResponse

logger = logging.getLogger(__name__)

SKIP_AFTER_FAILURE_SECONDS = 5.0

_skip_until = 0.0  # per process: only spares this worker repeated timeouts


def _cache() -> BaseCache | None:
    alias = conf.get("CACHE_ALIAS")
    if not alias or time.monotonic() < _skip_until:
        return None
    return caches[alias]


def _cache_key(principal: str, key: str) -> str:
    return "idempotency:" + hashlib.sha256(f"{principal}\n{key}".encode()).hexdigest()


def _failed(operation: str, exc: Exception) -> None:
    global _skip_until
    _skip_until = time.monotonic() + SKIP_AFTER_FAILURE_SECONDS
    logger.warning(
        "idempotency: Redis %s failed (%s: %s); answering from the database",
        operation, exc.__class__.__name__, exc,
    )


def reset() -> None:
    """Forget an earlier failure: try Redis again on the next request."""
    global _skip_until
    _skip_until = 0.0


def lookup(*, principal: str, key: str) -> StoredResponse | None:
    """Return the completed response of (principal, key) if Redis has it."""
    cache = _cache()
    if cache is None:
        return None
    try:
        value = cache.get(_cache_key(principal, key))
    except Exception as exc:  # any outage: fall back to the database, never a 5xx
        _failed("read", exc)
        return None
    if not isinstance(value, tuple) or len(value) != 4:
        return None
    fingerprint, status, body, headers = value
    return StoredResponse(fingerprint=fingerprint, status=status, body=body, headers=headers)


def remember(*, principal: str, key: str, response: StoredResponse, expires_at: datetime) -> None:
    """Keep the committed `response` of (principal, key) until `expires_at`."""
    cache = _cache()
    timeout = (expires_at - timezone.now()).total_seconds()
    if cache is None or timeout <= 0:
        return
    value = (response.fingerprint, response.status, response.body, response.headers)
    try:
        cache.set(_cache_key(principal, key), value, timeout=timeout)
    except Exception as exc:
        _failed("write", exc)
