"""When to retry and how long to wait: the retry policy, on a clock that tests can replace.

Retried: a connect error (nothing was sent), a transport failure after the
request was sent (a read timeout, a connection dropped before the answer),
502, 503, 504, 409 `idempotency_key_in_use` and 429, the last three after
their `Retry-After`. Never any other 4xx. Waits are exponential backoff with
full jitter (a uniform draw between 0 and min(cap, base * 2**n)), unless the
server said how long (`Retry-After`); bounded by a count of attempts and a
total time.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

RETRIED_STATUSES = frozenset({502, 503, 504})
RETRIED_CONFLICT_CODE = "idempotency_key_in_use"

# Transport failures where the request never left: retrying cannot repeat it.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Transport failures after (or while) the request was sent: the server may have done it.
MAYBE_SENT = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.WriteError,
              httpx.RemoteProtocolError, httpx.CloseError)


@dataclass
class RetryPolicy:
    """How often and how long a call is retried.

    `max_attempts` counts the first try; `max_elapsed` (seconds) bounds the
    whole call, waits included: a wait that would end past it is not taken.
    `clock`, `sleep` and `rng` are the real ones unless a test passes its own.
    """

    max_attempts: int = 8
    max_elapsed: float = 60.0
    base: float = 0.25
    cap: float = 8.0
    # A Retry-After longer than this is not waited for: the call gives up.
    max_retry_after: float = 30.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, retry: int) -> float:
        """Return the wait before retry number `retry` (1 for the first): full jitter."""
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** (retry - 1)))

    def wait_for(self, retry: int, retry_after: float | None) -> float:
        """Return the wait before retry `retry`: the server's Retry-After, else the backoff."""
        if retry_after is not None:
            return retry_after
        return self.backoff(retry)


def status_is_retried(status: int, code: str | None) -> bool:
    """Return whether an answer with this status (and problem code) is retried."""
    if status in RETRIED_STATUSES or status == 429:
        return True
    return status == 409 and code == RETRIED_CONFLICT_CODE


def exception_is_retried(error: BaseException) -> bool:
    return isinstance(error, NOT_SENT + MAYBE_SENT)


def may_have_been_sent(error: BaseException) -> bool:
    """Return whether the request may have reached the server before `error`."""
    return not isinstance(error, NOT_SENT)


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Return the seconds a `Retry-After` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())
