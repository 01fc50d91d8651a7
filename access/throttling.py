"""Per-principal request rates, counted in the shared cache (Redis in production).

DRF's own throttles keep a list of timestamps with a get and a set, which
loses counts when workers race. This counts in fixed windows with the cache's
`add` + `incr`, which Redis runs atomically, so every worker and host sees
one count. The database cache (embedded default) has no atomic increment:
there the limit is approximate under heavy concurrency. A cache outage lets
requests through (logged), never fails them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from access.client_address import client_address
from access.principals import principal_for

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60,
            "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
OFF = {"", "off", "none", "0"}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """Parse "100/min" into (100, 60); None for no limit."""
    if rate is None or rate.strip().lower() in OFF:
        return None
    count, _, period = rate.partition("/")
    try:
        return int(count), _PERIODS[period.strip().lower()]
    except (KeyError, ValueError):
        raise ValueError(f"invalid rate {rate!r}; use e.g. '100/min'") from None


def principal_ident(request: Request) -> str:
    """Name who is calling: an agent, a user, or (anonymous) the client address."""
    return principal_for(request) or f"anon:{client_address(request)}"


class PrincipalRateThrottle(BaseThrottle):
    """Allow TAOS_THROTTLE_USER requests per principal (TAOS_THROTTLE_ANON anonymous)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        ident = principal_ident(request)
        setting = settings.TAOS_THROTTLE_ANON if ident.startswith("anon:") else settings.TAOS_THROTTLE_USER
        rate = parse_rate(setting)
        if rate is None:
            return True
        limit, period = rate
        now = time.time()
        window = int(now // period)
        key = f"throttle:{ident}:{period}:{window}"
        try:
            cache.add(key, 0, timeout=period + 1)
            count = cache.incr(key)
        except ValueError:  # the key expired between add and incr: a new window
            cache.add(key, 1, timeout=period + 1)
            count = 1
        except Exception as exc:
            logger.warning("throttle: cache unavailable (%s); not limiting", exc.__class__.__name__)
            return True
        if count is None:  # django-redis with IGNORE_EXCEPTIONS: Redis is down
            logger.warning("throttle: cache unavailable; not limiting")
            return True
        self._wait = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
