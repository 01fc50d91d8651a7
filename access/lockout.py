"""Failed authentication, counted per client address and per user name in the shared cache.

A counter is a row of TAOS_AUTH_FAILURE_LIMIT slots (per user name:
TAOS_AUTH_USER_FAILURE_LIMIT) in the default cache, each a key that holds
the moment it expires, TAOS_AUTH_LOCKOUT_SECONDS after it was taken. A
counter with every slot taken is locked out until its oldest slot expires;
the caller answers 429 with that wait as `Retry-After`, without checking the
credential (so without running the password hasher).

Slots are taken with the cache's `add`, which is atomic on every backend
(Redis SET NX; the database cache inserts under the key's primary key), so
the count holds across workers and hosts. A password check from a client
that has failed before takes its slots *before* the hasher runs (and gives
them back if the password was right): however many such checks race, at
most the limit of them run. A client with no failure on record checks
without taking a slot, so a good password costs one cache read and no write;
only the checks already running when a client's first failure is recorded
can go past the limit.

A failing token (cheap to check, no hasher) takes a slot of its address
after the check. A cache outage lets authentication through uncounted
(logged), never fails it. Log lines carry the address and the user name,
never the secret.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

KEY_PREFIX = "authfail"


class LockedOut(Exception):
    """Too many failed attempts: retry after `retry_after` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"locked out for {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Counter:
    scope: str  # "addr" or "user"
    ident: str
    limit: int

    @property
    def keys(self) -> list[str]:
        # User names may hold any character: keys stay short and safe.
        digest = hashlib.sha256(self.ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return [f"{KEY_PREFIX}:{self.scope}:{digest}:{n}" for n in range(self.limit)]


@dataclass
class PasswordAttempt:
    """One password check; the caller sets `succeeded` when the password was right."""

    succeeded: bool = False
    reserved: list[str] = field(default_factory=list)


def _window() -> int:
    return settings.TAOS_AUTH_LOCKOUT_SECONDS


def _counters(*, address: str, username: str | None) -> list[Counter]:
    counters = [Counter("addr", address, settings.TAOS_AUTH_FAILURE_LIMIT)]
    if username is not None:
        counters.append(Counter("user", username, settings.TAOS_AUTH_USER_FAILURE_LIMIT))
    return counters


def _taken(counters: list[Counter]) -> dict[str, float] | None:
    """Return the taken slots of `counters` (key: expiry); None when the cache is down."""
    try:
        return cache.get_many([key for counter in counters for key in counter.keys])
    except Exception as exc:
        logger.warning("lockout: cache unavailable (%s); not counting", exc.__class__.__name__)
        return None


def _retry_after(expiries: list[float]) -> int:
    soonest = min(expiries, default=time.time() + _window())
    return max(1, math.ceil(soonest - time.time()))


def _full(counter: Counter, taken: dict[str, float]) -> list[float] | None:
    """Return the expiries of a counter whose every slot is taken, else None."""
    expiries = [taken[key] for key in counter.keys if key in taken]
    return expiries if len(expiries) >= counter.limit else None


def _take_slot(counter: Counter, taken: dict[str, float]) -> str | None | bool:
    """Take a free slot of `counter`: its key; None if all are taken; False if the cache is down."""
    window = _window()
    for key in counter.keys:
        if key in taken:
            continue
        try:
            added = cache.add(key, time.time() + window, timeout=window)
        except Exception as exc:
            logger.warning("lockout: cache unavailable (%s); not counting", exc.__class__.__name__)
            return False
        if added is None:  # django-redis with IGNORE_EXCEPTIONS: Redis is down
            return False
        if added:
            return key
    return None


def _release(keys: list[str]) -> None:
    if keys:
        try:
            cache.delete_many(keys)
        except Exception as exc:
            logger.warning("lockout: cache unavailable (%s)", exc.__class__.__name__)


def _locked_out(*, method: str, address: str, username: str | None,
                expiries: list[float]) -> LockedOut:
    retry_after = _retry_after(expiries)
    logger.warning("authentication locked out: method=%s address=%s user=%r retry_after=%d",
                   method, address, username, retry_after)
    return LockedOut(retry_after)


@contextmanager
def password_attempt(*, method: str, address: str, username: str) -> Iterator[PasswordAttempt]:
    """Guard one password check by `address` for `username`.

    Raise LockedOut, before the body runs, when either counter is full. The
    body checks the password and sets `attempt.succeeded`; a failure takes a
    slot of each counter (taken beforehand when the client failed before).
    """
    counters = _counters(address=address, username=username)
    attempt = PasswordAttempt()
    taken = _taken(counters)
    if taken:
        for counter in counters:
            if (expiries := _full(counter, taken)) is not None:
                raise _locked_out(method=method, address=address, username=username,
                                  expiries=expiries)
        for counter in counters:
            key = _take_slot(counter, taken)
            if key is None:  # taken meanwhile by a racing check
                _release(attempt.reserved)
                raise _locked_out(method=method, address=address, username=username,
                                  expiries=[taken[k] for k in counter.keys if k in taken])
            if key is False:
                break
            attempt.reserved.append(key)
    try:
        yield attempt
    except BaseException:
        _release(attempt.reserved)  # not a failed password: the check itself broke
        raise
    if attempt.succeeded:
        _release(attempt.reserved)
        return
    logger.warning("authentication failed: method=%s address=%s user=%r",
                   method, address, username)
    if taken is not None and not attempt.reserved:
        for counter in counters:
            _take_slot(counter, {})


def token_failed(*, method: str, address: str) -> int | None:
    """Count a token that did not authenticate; return a `Retry-After` if `address` is locked out."""
    counters = _counters(address=address, username=None)
    taken = _taken(counters)
    if taken is None:
        return None
    if (expiries := _full(counters[0], taken)) is not None:
        return _locked_out(method=method, address=address, username=None,
                           expiries=expiries).retry_after
    logger.warning("authentication failed: method=%s address=%s", method, address)
    _take_slot(counters[0], taken)
    return None
