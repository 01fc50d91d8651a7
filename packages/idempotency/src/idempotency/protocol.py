"""The idempotency protocol of one request, from its Idempotency-Key to its stored response.

DESIGN.md, "Idempotency: the reservation table". Read top to bottom:

1. Which requests take part (`applies_to`), where a request keeps its scope
   (`scope_of`) and a response its "never store" mark.
2. The transaction's mechanics: on SQLite `BEGIN` takes the write lock and
   is where a request waits for the holder of its key.
3. The stored response (plain data from services.py) and its HTTP form.
4. `IdempotencyScope`, one request's state and its transaction from open to
   close. `run` (called by `@idempotent`, after DRF's authentication,
   permission and throttle checks, so a 401/403/429 never opens it) parses
   the key, finds the principal, tries the Redis fast path, takes one of the
   key's slots (idempotency/waiters.py: at most the holder and a few waiters
   at once; without a free slot a 409 at once), opens the transaction,
   inserts the reservation first, then replays, refuses (409, 422) or runs
   the view. `finish` (called by the middleware with the final
   response, after DRF's exception handling and rendering) stores a success
   in the same transaction as the view's effects or rolls everything back,
   then closes the transaction.
5. The entry points of the two thin adapters: `serve` for
   `IdempotencyMiddleware` (idempotency/middleware.py), `run_idempotent`
   for `@idempotent` (idempotency/decorators.py).

The table is read and written by idempotency/services.py only, Redis by
idempotency/fast_path.py only.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.db import OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from rest_framework.request import Request

from idempotency import fast_path, services, waiters
from idempotency.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
)
from idempotency.keys import META_KEY, parse_key, request_fingerprint
from idempotency.services import StoredResponse
from tinyagentos_site.error_codes import ErrorCode
from tinyagentos_site.errors import problem
from tinyagentos_site.principals import principal_for

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
REPLAYED_HEADER = "Idempotent-Replayed"
# The response headers worth replaying; everything else is the server's own.
REPLAYED_HEADERS = ("Content-Type", "Location")

_SCOPE_ATTR = "idempotency_scope"
_REPLAYABLE_ATTR = "idempotency_replayable"

View = Callable[[], HttpResponseBase]


# --- 1. Who takes part; where the scope and the mark live --------------------

def applies_to(request: HttpRequest) -> bool:
    """Return whether `request` gets a scope: an unsafe method with an Idempotency-Key."""
    return request.method not in SAFE_METHODS and META_KEY in request.META


def scope_of(request: HttpRequest | Request) -> IdempotencyScope | None:
    """Return the scope the middleware gave `request` (Django's or DRF's), if any."""
    # DRF's Request hands unknown attributes to the HttpRequest it wraps.
    return getattr(request, _SCOPE_ATTR, None)


def mark_not_replayable(response: HttpResponseBase) -> HttpResponseBase:
    """Mark `response` as never stored (it reveals a secret); return it."""
    setattr(response, _REPLAYABLE_ATTR, False)
    return response


def is_replayable(response: HttpResponseBase) -> bool:
    """Return whether `response` may be stored: not marked, and not streamed."""
    return getattr(response, _REPLAYABLE_ATTR, True) and not response.streaming


# --- 2. The transaction's mechanics ------------------------------------------

@contextlib.contextmanager
def request_transaction(*, wait_seconds: float) -> Iterator[None]:
    """Open the transaction an idempotent request runs in, view and stored response alike.

    On SQLite (transaction_mode IMMEDIATE) BEGIN takes the database's write
    lock, so that is where a request waits for the holder of its key: the
    connection's busy timeout is set to `wait_seconds` for that BEGIN only,
    and a timeout there is a 409. PostgreSQL waits in `services.reserve`
    instead.
    """
    with contextlib.ExitStack() as stack:
        with _sqlite_busy_timeout(wait_seconds):
            try:
                stack.enter_context(transaction.atomic())
            except OperationalError as exc:
                if connection.vendor == "sqlite" and "locked" in str(exc):
                    raise IdempotencyKeyInUse(retry_after=wait_seconds) from None
                raise
        yield


@contextlib.contextmanager
def _sqlite_busy_timeout(seconds: float) -> Iterator[None]:
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    default_ms = int(float(connection.settings_dict["OPTIONS"].get("timeout", 5)) * 1000)
    wait_ms = max(1, int(seconds * 1000))
    if wait_ms == default_ms:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {wait_ms}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {default_ms}")


# --- 3. The stored response and its HTTP form --------------------------------

def stored_from_response(response: HttpResponseBase, *, fingerprint: str) -> StoredResponse:
    """Return what the table keeps of `response`: status, body, replayable headers."""
    headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    return StoredResponse(fingerprint=fingerprint, status=response.status_code,
                          body=bytes(response.content), headers=headers)


def response_from_stored(stored: StoredResponse) -> HttpResponse:
    """Return the HTTP response a replay of `stored` answers (before its replay mark)."""
    response = HttpResponse(stored.body, status=stored.status,
                            content_type=stored.headers.get("Content-Type"))
    if "Location" in stored.headers:
        response["Location"] = stored.headers["Location"]
    return response


# --- 4. One request's scope --------------------------------------------------

class Outcome(enum.Enum):
    UNTOUCHED = "untouched"  # `run` did not take the request (yet)
    EXECUTED = "executed"  # this request holds the reservation and ran the view
    REPLAYED = "replayed"  # a stored response was answered; the view did not run


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

    # Its transaction, from open to close.

    def open_transaction(self, *, wait_seconds: float) -> None:
        """Open the transaction the view and the stored response share.

        Entered on the scope's ExitStack rather than in a `with` block: `run`
        opens it, `finish` (or `abort`) closes it, once the final response
        exists.
        """
        self._transaction.enter_context(request_transaction(wait_seconds=wait_seconds))
        self._in_transaction = True

    def abort(self) -> None:
        """Roll back the request's transaction if it is open; release its key's slot."""
        if self._in_transaction:
            transaction.set_rollback(True)
        self.close()

    def close(self) -> None:
        """Commit the request's transaction if it is open (unless marked for rollback)."""
        self._in_transaction = False
        self._transaction.close()

    # Replay, refuse or run.

    def run(self, request: Request, view: View) -> HttpResponseBase:
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

        wait_seconds = float(settings.IDEMPOTENCY_WAIT_SECONDS)
        ttl = timedelta(seconds=int(settings.IDEMPOTENCY_TTL_SECONDS))
        self.expires_at = timezone.now() + ttl
        if waiters.takes_file_slots() and not self._take_file_slot():
            # The holder and its waiters fill the key's slots: no waiting here.
            stored = services.completed(principal=principal, key=key)
            if stored is None:
                raise IdempotencyKeyInUse(retry_after=1)
        else:
            self.open_transaction(wait_seconds=wait_seconds)
            stored = services.reserve_admitted(
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
        return view()

    def _take_file_slot(self) -> bool:
        """Take one of the key's slot files until the scope closes; return whether one was free."""
        slot = contextlib.ExitStack()
        if not slot.enter_context(waiters.file_slot(principal=self.principal, key=self.key)):
            slot.close()
            return False
        self._transaction.enter_context(slot)  # released with the transaction, on close
        return True

    def _replay(self, stored: StoredResponse) -> HttpResponseBase:
        if stored.fingerprint != self.fingerprint:
            raise IdempotencyKeyReused()
        self.outcome = Outcome.REPLAYED
        return response_from_stored(stored)

    # Store or roll back.

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
                response = problem(500, ErrorCode.SERVER_ERROR, "Internal server error.")
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
        stored = stored_from_response(response, fingerprint=self.fingerprint)
        # Not written to Redis here: most keys are never retried. The first
        # replay, from the database, writes it (`run`).
        services.complete(principal=self.principal, key=self.key, response=stored)


# --- 5. The adapters' entry points -------------------------------------------

def serve(request: HttpRequest,
          get_response: Callable[[HttpRequest], HttpResponseBase]) -> HttpResponseBase:
    """Give `request` a scope, answer it with `get_response`, then finish the scope.

    For the middleware, on requests `applies_to` accepts. Whatever happens
    inside, the request's transaction is closed on the way out.
    """
    try:
        _ = request.body  # read it now, before a parser streams it: the fingerprint needs it
    except RequestDataTooBig:
        return problem(413, ErrorCode.REQUEST_TOO_LARGE, "The request body is too large.")
    scope = IdempotencyScope(request)
    setattr(request, _SCOPE_ATTR, scope)
    try:
        response = get_response(request)
        return scope.finish(response)
    except BaseException:
        scope.abort()
        raise


def run_idempotent(request: Request, view: View) -> HttpResponseBase:
    """Run `view` for `request` under its scope; for `@idempotent`, after DRF's checks.

    A request without a scope (a safe method, or no key) runs as it is,
    unless IDEMPOTENCY_REQUIRED asks for a key.
    """
    scope = scope_of(request)
    if scope is not None:
        return scope.run(request, view)
    if request.method not in SAFE_METHODS:
        if META_KEY in request.META:
            raise ImproperlyConfigured(
                "@idempotent needs idempotency.middleware.IdempotencyMiddleware"
            )
        if settings.IDEMPOTENCY_REQUIRED:
            raise IdempotencyKeyRequired()
    return view()
