"""How many password checks HTTP Basic may run per client address and second.

A valid password costs the hasher ~0.2 s of CPU and is never a failure, so
the lockout never slows it: one address could keep every core busy. Past
TAOS_BASIC_AUTH_CHECKS_PER_SECOND checks in one second from one address, a
Basic request answers 429 with `Retry-After: 1` before the hasher runs.
Counted in the shared cache, in fixed one-second windows (approximate on the
database cache, which has no atomic increment); a cache outage does not
limit (the lockout, which fails closed, still stands).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 1


def _now() -> float:
    return time.time()


def spend(address: str) -> bool:
    """Count one password check for `address`; return False when its second's budget is spent."""
    limit = settings.TAOS_BASIC_AUTH_CHECKS_PER_SECOND
    if limit <= 0:
        return True
    key = f"access:hasher:{address}:{int(_now())}"
    try:
        cache.add(key, 0, timeout=WINDOW_SECONDS + 1)
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        count = 1
        cache.add(key, 1, timeout=WINDOW_SECONDS + 1)
    except Exception as exc:
        logger.warning("hasher budget: cache unavailable (%s); not limiting",
                       exc.__class__.__name__)
        return True
    return count <= limit
