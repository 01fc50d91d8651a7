"""Completed responses in Redis: replays served without touching the table.

The database stays the source of truth. An entry is written by a key's
first replay (read from the database), not when the key completes: most
keys are never retried. Entries expire with their row. If Redis fails,
this process logs a warning, answers from the database, and leaves Redis
alone for a few seconds rather than paying a timeout (and a log line) on
every request. Entries are JSON: the alias must use a serializer that never
unpickles (with django-redis: its JSONSerializer); what is not an entry of
ours is a miss.
"""

from __future__ import annotations

import base64
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
# Entries are JSON (the cache alias's serializer), never pickles: whoever can
# write Redis must not run code in the workers. The body is base64.
ENTRY_VERSION = 1

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
    except ValueError:  # not JSON (an entry pickled by an older version): a miss
        return None
    except Exception as exc:  # any outage: fall back to the database, never a 5xx
        _failed("read", exc)
        return None
    return _from_json(value)


def _from_json(value: object) -> StoredResponse | None:
    """Return the response an entry holds, or None for anything that is not one of ours."""
    if not isinstance(value, dict) or value.get("v") != ENTRY_VERSION:
        return None
    fingerprint, status, body, headers = (value.get(name) for name in
                                          ("fingerprint", "status", "body", "headers"))
    if not (isinstance(fingerprint, str) and isinstance(status, int) and isinstance(body, str)
            and isinstance(headers, dict)
            and all(isinstance(v, str) for v in headers.values())):
        return None
    try:
        raw = base64.b64decode(body, validate=True)
    except ValueError:
        return None
    return StoredResponse(fingerprint=fingerprint, status=status, body=raw, headers=headers)


def remember(*, principal: str, key: str, response: StoredResponse, expires_at: datetime) -> None:
    """Keep the committed `response` of (principal, key) until `expires_at`."""
    cache = _cache()
    timeout = (expires_at - timezone.now()).total_seconds()
    if cache is None or timeout <= 0:
        return
    value = {"v": ENTRY_VERSION, "fingerprint": response.fingerprint, "status": response.status,
             "body": base64.b64encode(response.body).decode("ascii"),
             "headers": response.headers}
    try:
        cache.set(_cache_key(principal, key), value, timeout=timeout)
    except Exception as exc:
        _failed("write", exc)
