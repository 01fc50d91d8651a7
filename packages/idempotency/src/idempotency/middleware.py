"""`IdempotencyMiddleware`: hand unsafe requests with an Idempotency-Key to the protocol.

Last in MIDDLEWARE, so it is the only place that sees the final response:
after DRF's exception handling and rendering. Everything it does is in
idempotency/protocol.py (`serve`): a scope for the request, then the stored
response or a rollback, and the transaction closed whatever happens. A
request the decorator never saw (not opted in, or refused before the view)
passes through untouched.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from idempotency import protocol


class IdempotencyMiddleware:
    """Give unsafe requests with an Idempotency-Key a scope; finish it on the way out."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not protocol.applies_to(request):
            return self.get_response(request)
        return protocol.serve(request, self.get_response)
