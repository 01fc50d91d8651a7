"""RequestIdMiddleware: first in MIDDLEWARE, so that every response carries the request's ID."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty
from django.utils.module_loading import import_string

from request_context.ids import HEADER, bound_request_id, request_id_from
from request_context.routes import route_template

# One line per request, with its route, status, duration and principal
# (docs/logging.md); at INFO with TAOS_LOG_FORMAT=json, quiet in text, where
# gunicorn's access line says the same.
request_logger = logging.getLogger("request_context.requests")


class RequestIdMiddleware:
    """Take the request's ID (a valid X-Request-ID, else a new one) and hold it while it runs.

    The ID is `request.request_id`, the current one for every log line of the
    request (`request_context.ids`), and the response's X-Request-ID; it is
    cleared when the response leaves the middleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        path = getattr(settings, "REQUEST_CONTEXT_PRINCIPAL", "")
        self.principal_for: Callable[[HttpRequest], str | None] | None = (
            import_string(path) if path else None)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get(HEADER))
        request.request_id = request_id
        started = time.perf_counter()
        with bound_request_id(request_id):
            response = self.get_response(request)
            response[HEADER] = request_id
            if request_logger.isEnabledFor(logging.INFO):
                self._log(request, response, time.perf_counter() - started)
        return response

    def _log(self, request: HttpRequest, response: HttpResponse, duration: float) -> None:
        route = route_template(request)
        request_logger.info(
            "%s %s %s", request.method, route or "(no route)", response.status_code,
            extra={"method": request.method, "route": route, "status": response.status_code,
                   "duration": round(duration, 6), "principal": self._principal(request)})

    def _principal(self, request: HttpRequest) -> str | None:
        """Who made the request, if the request found out (never a query of its own)."""
        user = getattr(request, "user", None)
        if user is None or self.principal_for is None:
            return None
        if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
            return None  # nothing asked who the user is: asking now would read the session
        return self.principal_for(request)
