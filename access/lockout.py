"""Failed authentication, counted per client address and per account (or device) in the shared cache.

A password check counts against its client address and, without a device
cookie, against the account the user name resolves to (access/accounts.py:
one count however the name is spelled); with a valid device cookie for that
account (access/device_cookie.py), against that device instead, so that
others' failures do not lock it out.

A counter is a row of TAOS_AUTH_FAILURE_LIMIT slots (per account:
TAOS_AUTH_USER_FAILURE_LIMIT; per device: TAOS_AUTH_DEVICE_FAILURE_LIMIT) in
the default cache, each a key that holds
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

KEY_PREFIX = "authfail"


# What a full counter locks out, as LockedOut.scope says it.
SCOPES = {"addr": "address", "user": "user", "device": "device"}


class LockedOut(Exception):
    """Too many failed attempts: retry after `retry_after` seconds.

    `scope` is what is locked out: "address", "user" or "device".
    """

    def __init__(self, retry_after: int, scope: str = "address"):
        super().__init__(f"locked out for {retry_after} s")
        self.retry_after = retry_after
        self.scope = scope


@dataclass
class Counter:
    scope: str  # "addr", "user" or "device"
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


def _counters(*, address: str, account: str | None = None,
              device: str | None = None) -> list[Counter]:
    counters = [Counter("addr", address, settings.TAOS_AUTH_FAILURE_LIMIT)]
    if device is not None:
        counters.append(Counter("device", device, settings.TAOS_AUTH_DEVICE_FAILURE_LIMIT))
    elif account is not None:
        counters.append(Counter("user", account, settings.TAOS_AUTH_USER_FAILURE_LIMIT))
    return counters


def _epoch_key(account: str) -> str:
    digest = hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{KEY_PREFIX}:epoch:{digest}"


def _device_ident(account: str, nonce: str) -> str | None:
    """Return the count identity of a device of `account`; None when the cache is down.

    It holds the account's epoch, which `clear()` moves on: every device
    count of the account then starts afresh.
    """
    try:
        epoch = cache.get(_epoch_key(account), 0)
    except Exception as exc:
        logger.warning("lockout: cache unavailable (%s); not counting", exc.__class__.__name__)
        return None
    return f"{account}:{epoch}:{nonce}"


def _taken(counters: list[Counter]) -> dict[str, float] | None:
    """Return the taken slots of `counters` (key: expiry); None when the cache is down."""
    try:
        taken = cache.get_many([key for counter in counters for key in counter.keys])
    except Exception as exc:
        logger.warning("lockout: cache unavailable (%s); not counting", exc.__class__.__name__)
        return None
    # A slot whose value is not a number (unreadable: access/cache_serializer.py)
    # is taken all the same, until the latest it can expire.
    latest = time.time() + _window()
    return {key: value if isinstance(value, (int, float)) else latest
            for key, value in taken.items()}


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
                expiries: list[float], scope: str = "addr") -> LockedOut:
    retry_after = _retry_after(expiries)
    logger.warning("authentication locked out: method=%s address=%s user=%r scope=%s "
                   "retry_after=%d", method, address, username, SCOPES[scope], retry_after)
    return LockedOut(retry_after, SCOPES[scope])


@contextmanager
def password_attempt(*, method: str, address: str, username: str, account: str,
                     device: str | None = None) -> Iterator[PasswordAttempt]:
    """Guard one password check by `address` for `username`.

    `account` is the key the name's failures count under
    (access.accounts.resolve); `device` the nonce of the client's valid
    device cookie for that account, or None: then the account's count
    applies, else the device's. Raise LockedOut, before the body runs, when
    the address's or that count is full. The body checks the password and
    sets `attempt.succeeded`; a failure takes a slot of each counter (taken
    beforehand when the client failed before).
    """
    if device is not None:
        device = _device_ident(account, device)
    counters = _counters(address=address, account=account, device=device)
    attempt = PasswordAttempt()
    taken = _taken(counters)
    if taken:
        for counter in counters:
            if (expiries := _full(counter, taken)) is not None:
                raise _locked_out(method=method, address=address, username=username,
                                  expiries=expiries, scope=counter.scope)
        for counter in counters:
            key = _take_slot(counter, taken)
            if key is None:  # taken meanwhile by a racing check
                _release(attempt.reserved)
                raise _locked_out(method=method, address=address, username=username,
                                  expiries=[taken[k] for k in counter.keys if k in taken],
                                  scope=counter.scope)
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
    logger.warning("authentication failed: method=%s address=%s user=%r device=%s",
                   method, address, username, "yes" if device is not None else "no")
    if taken is not None and not attempt.reserved:
        for counter in counters:
            _take_slot(counter, {})


def token_failed(*, method: str, address: str) -> int | None:
    """Count a token that did not authenticate; return a `Retry-After` if `address` is locked out."""
    counters = _counters(address=address)
    taken = _taken(counters)
    if taken is None:
        return None
    if (expiries := _full(counters[0], taken)) is not None:
        return _locked_out(method=method, address=address, username=None,
                           expiries=expiries).retry_after
    logger.warning("authentication failed: method=%s address=%s", method, address)
    _take_slot(counters[0], taken)
    return None


@dataclass
class Cleared:
    """What `clear()` found: failures on record per counter, and whether each was full."""

    scope: str
    ident: str
    failures: int
    locked_out: bool


def clear(*, address: str | None = None, accounts: Sequence[str] = ()) -> list[Cleared]:
    """Forget the failures of `address` and of the account keys `accounts`.

    An account's device counts start afresh too (its epoch moves on).
    Raise the cache's error when it is down: the caller must not say it
    cleared what it could not.
    """
    counters = []
    if address is not None:
        counters.append(Counter("addr", address, settings.TAOS_AUTH_FAILURE_LIMIT))
    counters += [Counter("user", key, settings.TAOS_AUTH_USER_FAILURE_LIMIT) for key in accounts]
    if cache.add(f"{KEY_PREFIX}:probe", 1, timeout=1) is None:
        # django-redis with IGNORE_EXCEPTIONS answers an outage with None (and
        # get_many with {}): "nothing to clear" would be a lie.
        raise ConnectionError("the cache did not answer")
    taken = cache.get_many([key for counter in counters for key in counter.keys])
    found = []
    for counter in counters:
        failures = sum(key in taken for key in counter.keys)
        found.append(Cleared(SCOPES[counter.scope], counter.ident, failures,
                             failures >= counter.limit))
    cache.delete_many([key for counter in counters for key in counter.keys])
    for key in accounts:
        cache.set(_epoch_key(key), time.time_ns(), timeout=None)
    return found
