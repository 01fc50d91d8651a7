"""Time spent in database statements and cache calls during the current request.

The database: `connection.execute_wrapper` around the request (Django's hook
for every statement of the connection). The cache: no such hook exists, so
each cache backend class of CACHES has its public methods wrapped once, at
start; a call inside another (`get_or_set` calling `get`) counts once. The
database cache's statements count as both. Outside a request (the deploy
worker, management commands) nothing is counted.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string

CACHE_METHODS = ("add", "get", "set", "touch", "delete", "get_many", "has_key", "incr",
                 "decr", "set_many", "delete_many", "get_or_set", "clear", "ttl", "expire",
                 "persist", "delete_pattern", "lock")


class Timers:
    __slots__ = ("db", "cache", "in_cache")

    def __init__(self) -> None:
        self.db = 0.0
        self.cache = 0.0
        self.in_cache = False


_current: contextvars.ContextVar[Timers | None] = contextvars.ContextVar(
    "metrics_timers", default=None)


def _time_statement(execute: Callable, sql: str, params: Any, many: bool,
                    context: dict) -> Any:
    timers = _current.get()
    started = perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        if timers is not None:
            timers.db += perf_counter() - started


@contextmanager
def request_timers() -> Iterator[Timers]:
    """Count the database and cache time of the block (a request) into the Timers yielded."""
    timers = Timers()
    token = _current.set(timers)
    try:
        with connection.execute_wrapper(_time_statement):
            yield timers
    finally:
        _current.reset(token)


def _timed(method: Callable) -> Callable:
    @functools.wraps(method)
    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        timers = _current.get()
        if timers is None or timers.in_cache:
            return method(self, *args, **kwargs)
        timers.in_cache = True
        started = perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            timers.cache += perf_counter() - started
            timers.in_cache = False

    timed.metrics_timed = True  # type: ignore[attr-defined]
    return timed


def time_caches() -> None:
    """Wrap the public methods of every cache backend class in CACHES (once each)."""
    for alias in settings.CACHES.values():
        backend = import_string(alias["BACKEND"])
        for name in CACHE_METHODS:
            method = getattr(backend, name, None)
            if callable(method) and not getattr(method, "metrics_timed", False):
                setattr(backend, name, _timed(method))
