"""The idempotency protocol of one request, from its Idempotency-Key to its stored response.

The package README, "How it works". Read top to bottom:

1. A response's "never store" mark; what the table keeps of a response
   and the HTTP form of a replay.
2. `ViewCall`: one call of a DRF view's handler, and what the view does with
   its outcome (its exception handling, `finalize_response`, rendering).
3. `run`, the one entry, called by `@idempotent` (idempotency/decorators.py)
   after DRF's authentication, permission and throttle checks, so a
   401/403/429 never touches the table. In one frame it parses the key,
   finds the principal (IDEMPOTENCY_PRINCIPAL), fingerprints the body,
   tries the Redis fast path, takes one of the key's slots, opens the
   transaction, reserves the key, then replays, refuses (409, 422) or runs
   the view; it makes the final response as the view would (its exception
   handling, finalizing, rendering), stores a success in the same
   transaction as the view's effects or rolls everything back, and closes
   the transaction on the way out of that same frame. Errors of this
   package become responses through IDEMPOTENCY_ERROR_RESPONSE.

The table is read and written by idempotency/services.py only, Redis by
idempotency/fast_path.py only; the engine (idempotency/engines/) owns the
transaction's mechanics and the key's slots.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.db import transaction
from django.http import HttpResponse, HttpResponseBase
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework.request import Request

from idempotency import conf, engines, fast_path, services, signals
from idempotency.errors import (
    IdempotencyError,
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    NoWaiterSlot,
    RequestTooLarge,
    ServerError,
)
from idempotency.keys import META_KEY, parse_key, request_fingerprint
from idempotency.stored import StoredResponse

if TYPE_CHECKING:
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
REPLAYED_HEADER = "Idempotent-Replayed"
# The response headers worth replaying; everything else is the server's own.
REPLAYED_HEADERS = ("Content-Type", "Location")
MIDDLEWARE_PATH = "idempotency.middleware.IdempotencyMiddleware"

_REPLAYABLE_ATTR = "idempotency_replayable"

# Set while an idempotent handler runs in this context: a handler nested in it
# (an idempotent view calling another) runs as it is, and the outer decides.
_running: contextvars.ContextVar[bool] = contextvars.ContextVar("idempotency_running",
                                                               default=False)


# --- 1. The "never store" mark; the stored response and its HTTP form ---------

def mark_not_replayable(response: HttpResponseBase) -> HttpResponseBase:
    """Mark `response` as never stored (it reveals a secret); return it."""
    setattr(response, _REPLAYABLE_ATTR, False)
    return response


def is_replayable(response: HttpResponseBase) -> bool:
    """Return whether `response` may be stored: not marked, and not streamed."""
    return getattr(response, _REPLAYABLE_ATTR, True) and not response.streaming


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


# --- 2. One call of a view's handler -----------------------------------------

@dataclass(frozen=True)
class ViewCall:
    """A DRF view's handler called for a request, and the view's own way to answer.

    `respond` and `final` do what DRF's `dispatch` does around a handler, so
    that the response exists, rendered, before the transaction closes;
    `dispatch` finalizing and Django rendering it again afterwards change
    nothing (DRF's `Vary` is added once, its other headers are set to the
    same values, and a rendered response does not render again).
    """

    view: APIView
    request: Request
    handler: Callable[..., HttpResponseBase]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def run_handler(self) -> HttpResponseBase:
        """Run the handler; its exceptions propagate to DRF as usual."""
        return self.handler(self.view, self.request, *self.args, **self.kwargs)

    def respond(self) -> HttpResponseBase:
        """Run the handler; answer its exception as the view does, or re-raise it."""
        try:
            return self.run_handler()
        except Exception as exc:
            return self.view.handle_exception(exc)

    def final(self, response: HttpResponseBase) -> HttpResponseBase:
        """Return `response` finalized by the view and rendered: what the client gets."""
        response = self.view.finalize_response(self.request, response, *self.args,
                                               **self.kwargs)
        render = getattr(response, "render", None)
        if callable(render):
            response = render()
        return response


# --- 3. The one entry --------------------------------------------------------

def run(call: ViewCall) -> HttpResponseBase:
    """Answer `call` at most once per (principal, key); see the module docstring.

    A request that does not take part runs as it is: a safe method, an
    unsafe one without the header (unless IDEMPOTENCY_REQUIRED), one without
    a principal, and a handler nested in an idempotent one.
    """
    request = call.request
    raw_key = request.META.get(META_KEY)
    if (request.method in SAFE_METHODS or _running.get()
            or (raw_key is None and not conf.get("REQUIRED"))):
        return call.run_handler()
    entered = _running.set(True)
    try:
        return _answer(call, raw_key)
    except IdempotencyError as error:
        _send_outcome(request, _refusal(error))
        return call.final(conf.error_response(error))
    finally:
        _running.reset(entered)


# What a refusal counts as (idempotency/signals.py); a 409 may say which it was.
_REFUSALS = {IdempotencyKeyInUse: signals.REFUSED_IN_USE,
             NoWaiterSlot: signals.REFUSED_NO_SLOT,
             IdempotencyKeyReused: signals.REFUSED_REUSED,
             IdempotencyKeyInvalid: signals.REFUSED_INVALID,
             IdempotencyKeyRequired: signals.REFUSED_INVALID,
             RequestTooLarge: signals.REFUSED_INVALID}


def _refusal(error: IdempotencyError) -> str:
    return _REFUSALS.get(type(error), signals.ERROR)


def _send_outcome(request: Request, outcome: str) -> None:
    signals.outcome.send(sender=None, request=request, outcome=outcome)


def _answer(call: ViewCall, raw_key: str | None) -> HttpResponseBase:
    request = call.request
    if raw_key is None:
        raise IdempotencyKeyRequired()
    key = parse_key(raw_key)
    principal = conf.principal_of(request)
    if principal is None:
        return call.run_handler()  # nobody to scope the key to: no guarantee is possible
    method, path = request.method, request.get_full_path()
    fingerprint = request_fingerprint(method=method, path=path, body=_body(request))
    cached = fast_path.lookup(principal=principal, key=key)
    if cached is not None:
        response = _replay(call, cached, fingerprint=fingerprint)
        _send_outcome(request, signals.REPLAYED_REDIS)
        return response

    wait_seconds = float(conf.get("WAIT_SECONDS"))
    expires_at = timezone.now() + timedelta(seconds=int(conf.get("TTL_SECONDS")))
    engine = engines.current()
    with engine.admission(principal=principal, key=key) as admitted, _slot(request, admitted):
        if not admitted:
            # The holder and its waiters fill the key's slots: no waiting here.
            stored = services.completed(principal=principal, key=key)
            if stored is None:
                raise NoWaiterSlot()
            response = _replay_from_table(call, stored, principal=principal, key=key,
                                          fingerprint=fingerprint)
            _send_outcome(request, signals.REPLAYED_DATABASE)
            return response
        with engine.transaction(wait_seconds=wait_seconds):
            stored, waited = _reserve_timed(
                request, principal=principal, key=key, fingerprint=fingerprint, method=method,
                path=path, wait_seconds=wait_seconds, expires_at=expires_at,
            )
            if stored is None:
                _send_outcome(request, signals.FIRST_RUN)
                return _run_view(call, principal=principal, key=key, fingerprint=fingerprint)
            transaction.set_rollback(True)  # a replay keeps nothing of this request
            response = _replay_from_table(call, stored, principal=principal, key=key,
                                          fingerprint=fingerprint)
            _send_outcome(request, signals.REPLAYED_AFTER_WAIT if waited >= signals.WAITED_SECONDS
                          else signals.REPLAYED_DATABASE)
            return response


# --- Signals (idempotency/signals.py): what happened, for a project to count -----

@contextmanager
def _slot(request: Request, admitted: bool) -> Iterator[None]:
    """Say when an admitted request takes and gives back its key's slot."""
    if not admitted:
        yield
        return
    signals.slot_taken.send(sender=None, request=request)
    try:
        yield
    finally:
        signals.slot_released.send(sender=None, request=request)


def _reserve_timed(request: Request, *, wait_seconds: float,
                   **reservation: Any) -> tuple[StoredResponse | None, float]:
    """`services.reserve_admitted`, and how long it took (its wait for the key's holder)."""
    started = time.monotonic()
    try:
        return services.reserve_admitted(wait_seconds=wait_seconds, **reservation), \
            time.monotonic() - started
    finally:
        signals.reserved.send(sender=None, request=request, seconds=time.monotonic() - started)


def _body(request: Request) -> bytes:
    """Return the request's body, which the fingerprint covers."""
    try:
        return request.body
    except RequestDataTooBig:
        raise RequestTooLarge() from None
    except RawPostDataException:
        raise ImproperlyConfigured(
            f"@idempotent cannot read a body a parser already read: add {MIDDLEWARE_PATH} "
            "to MIDDLEWARE") from None


def _replay(call: ViewCall, stored: StoredResponse, *, fingerprint: str) -> HttpResponseBase:
    if stored.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    response = call.final(response_from_stored(stored))
    response[REPLAYED_HEADER] = "true"
    return response


def _replay_from_table(call: ViewCall, stored: StoredResponse, *, principal: str, key: str,
                       fingerprint: str) -> HttpResponseBase:
    response = _replay(call, stored, fingerprint=fingerprint)
    # Committed long ago: warm Redis for the next replay (a no-op without it).
    fast_path.remember(principal=principal, key=key, response=stored,
                       expires_at=stored.expires_at)
    return response


def _run_view(call: ViewCall, *, principal: str, key: str,
              fingerprint: str) -> HttpResponseBase:
    """Run the view holding the key; keep its success with its effects, or roll all back."""
    response = call.final(call.respond())
    if response.status_code >= 400:
        transaction.set_rollback(True)
    elif transaction.get_rollback():
        # The view swallowed a database error: its effects are gone, so its
        # success must be neither answered nor stored.
        logger.error("idempotent view answered %s in a failed transaction",
                     response.status_code)
        response = call.final(conf.error_response(ServerError()))
    elif not is_replayable(response):
        services.forget(principal=principal, key=key)
    else:
        # Not written to Redis here: most keys are never retried. The first
        # replay, from the database, writes it (`_replay_from_table`).
        services.complete(principal=principal, key=key,
                          response=stored_from_response(response, fingerprint=fingerprint))
        signals.stored.send(sender=None, request=call.request)
    response[REPLAYED_HEADER] = "false"
    return response
