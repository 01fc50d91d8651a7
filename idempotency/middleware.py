"""Own the transaction of an idempotent request, from reservation to stored response.

How the pieces fit (DESIGN.md, "Idempotency"):

* A view opts in with `@idempotent` (idempotency/decorators.py). DRF calls a
  handler only after `APIView.initial()` (authentication, permissions,
  throttles), so a 401, 403 or 429 never reaches the decorator and never
  touches the table. The decorator hands the request to
  `IdempotencyScope.run`, which parses the key, finds the principal
  (`principal_for`), tries the Redis fast path, then opens the request's
  transaction and inserts the reservation row first. It then replays a
  stored response, refuses (409, 422), or runs the view.
* `IdempotencyMiddleware` (last in MIDDLEWARE) attaches the scope to every
  unsafe request that carries an Idempotency-Key header, and it is the only
  place that sees the final response: after DRF's exception handling, after
  rendering. There it stores a successful response in the same transaction
  as the view's effects, or rolls everything back (status >= 400, an
  exception), then closes the transaction; its `finally` closes it whatever
  happens. A request the decorator never saw (not opted in, or refused
  before the view) passes through untouched.

The transaction is opened lazily by the decorator (after authentication) but
entered on the scope's ExitStack, so that the middleware can close it: on
SQLite, BEGIN takes the write lock, which must not be held for a request
that ends as 401.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone
from rest_framework.request import Request

from idempotency import fast_path, services, test_hooks
from idempotency.conf import setting
from idempotency.errors import IdempotencyKeyReused
from idempotency.keys import META_KEY, parse_key, request_fingerprint
from tinyagentos_site.principals import principal_for
from tinyagentos_site.errors import problem

logger = logging.getLogger(__name__)

SCOPE_ATTR = "idempotency_scope"
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYABLE_ATTR = "idempotency_replayable"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class Outcome(enum.Enum):
    UNTOUCHED = "untouched"  # the decorator did not take the request (yet)
    EXECUTED = "executed"  # this request holds the reservation and ran the view
    REPLAYED = "replayed"  # a stored response was answered; the view did not run


def is_replayable(response: HttpResponseBase) -> bool:
    return getattr(response, REPLAYABLE_ATTR, True) and not response.streaming


class IdempotencyScope:
    """The idempotency state and transaction of one request with an Idempotency-Key."""

    def __init__(self, request: HttpRequest):
        self.request = request
        self.outcome = Outcome.UNTOUCHED
        self.principal = ""
        self.key = ""
        self.fingerprint = ""
        self.expires_at = timezone.now()
        self._transaction = contextlib.ExitStack()
        self._in_transaction = False

    def run(self, request: Request, view: Callable[[], HttpResponseBase]) -> HttpResponseBase:
        """Run `view` at most once per (principal, key); called after DRF's checks."""
        if self.outcome is not Outcome.UNTOUCHED:
            return view()  # a nested idempotent view: the outer one decides
        key = parse_key(self.request.META[META_KEY])
        principal = principal_for(request)
        if principal is None:
            return view()  # nobody to scope the key to: no guarantee is possible
        self.key, self.principal = key, principal
        method, path = self.request.method, self.request.get_full_path()
        self.fingerprint = request_fingerprint(method=method, path=path, body=self.request.body)
        cached = fast_path.lookup(principal=principal, key=key)
        if cached is not None:
            return self._replay(cached)

        wait_seconds = float(setting("IDEMPOTENCY_WAIT_SECONDS"))
        ttl = timedelta(seconds=int(setting("IDEMPOTENCY_TTL_SECONDS")))
        self.expires_at = timezone.now() + ttl
        self._transaction.enter_context(services.request_transaction(wait_seconds=wait_seconds))
        self._in_transaction = True
        stored = services.reserve(
            principal=principal, key=key, fingerprint=self.fingerprint,
            method=method, path=path, wait_seconds=wait_seconds, expires_at=self.expires_at,
        )
        if stored is not None:
            response = self._replay(stored)
            # Committed long ago: warm Redis for the next replay (a no-op without it).
            fast_path.remember(principal=principal, key=key, response=stored,
                               expires_at=stored.expires_at)
            return response
        self.outcome = Outcome.EXECUTED
        test_hooks.delay_holding_reservation(self.request, key=key)
        return view()

    def _replay(self, stored: services.StoredResponse) -> HttpResponseBase:
        if stored.fingerprint != self.fingerprint:
            raise IdempotencyKeyReused()
        self.outcome = Outcome.REPLAYED
        return stored.to_response()

    def finish(self, response: HttpResponseBase) -> HttpResponseBase:
        """Store the response or roll everything back, mark it, close the transaction."""
        keep = False
        if self.outcome is Outcome.REPLAYED:
            response[REPLAYED_HEADER] = "true"
        elif self.outcome is Outcome.EXECUTED:
            if response.status_code < 400 and transaction.get_rollback():
                # The view swallowed a database error: its effects are gone, so
                # its success must be neither answered nor stored.
                logger.error("idempotent view answered %s in a failed transaction",
                             response.status_code)
                response = problem(500, "server_error", "Internal server error.")
            elif response.status_code < 400:
                self._store(response)
                keep = True
            response[REPLAYED_HEADER] = "false"
        if not keep:
            self.abort()
        self.close()
        return response

    def _store(self, response: HttpResponseBase) -> None:
        if not is_replayable(response):
            services.forget(principal=self.principal, key=self.key)
            return
        stored = services.StoredResponse.from_response(response, fingerprint=self.fingerprint)
        services.complete(principal=self.principal, key=self.key, response=stored)
        transaction.on_commit(partial(
            fast_path.remember, principal=self.principal, key=self.key, response=stored,
            expires_at=self.expires_at,
        ))

    def abort(self) -> None:
        """Roll back the request's transaction if it is open."""
        if self._in_transaction:
            transaction.set_rollback(True)
            self.close()

    def close(self) -> None:
        """Commit the request's transaction if it is open (unless marked for rollback)."""
        self._in_transaction = False
        self._transaction.close()


class IdempotencyMiddleware:
    """Give unsafe requests with an Idempotency-Key a scope; finish it on the way out."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method in SAFE_METHODS or META_KEY not in request.META:
            return self.get_response(request)
        try:
            _ = request.body  # read it now, before a parser streams it: the fingerprint needs it
        except RequestDataTooBig:
            return problem(413, "request_too_large", "The request body is too large.")
        scope = IdempotencyScope(request)
        setattr(request, SCOPE_ATTR, scope)
        try:
            response = self.get_response(request)
            return scope.finish(response)
        except BaseException:
            scope.abort()
            raise
