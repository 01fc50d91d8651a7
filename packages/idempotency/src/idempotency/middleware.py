"""`IdempotencyMiddleware`: read the body of a request with an Idempotency-Key before anything else can.

The protocol runs inside the view (`@idempotent`, idempotency/protocol.py),
once DRF has authenticated the request, and fingerprints its body. By then
an authenticator may have streamed the body through a parser (DRF's
`SessionAuthentication` reads `request.POST` for its CSRF check), after
which Django refuses `request.body`. So this middleware reads the body of
each unsafe request carrying the header first, which keeps it readable for
both, and answers 413 for one above DATA_UPLOAD_MAX_MEMORY_SIZE. It opens no
transaction and does not enter the protocol.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponseBase

from idempotency import conf
from idempotency.errors import RequestTooLarge
from idempotency.keys import META_KEY
from idempotency.protocol import SAFE_METHODS


class IdempotencyMiddleware:
    """Read the body of unsafe requests with an Idempotency-Key, so that it stays readable."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method not in SAFE_METHODS and META_KEY in request.META:
            try:
                _ = request.body
            except RequestDataTooBig:
                return conf.error_response(RequestTooLarge())
        return self.get_response(request)
