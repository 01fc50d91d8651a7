"""Count every request: its route, method, status, latency, database and cache time."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse

from metrics import instruments, labels, timing


class MetricsMiddleware:
    """The outermost middleware: what it times is what the client waited for in Django."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        if not settings.TAOS_METRICS:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = perf_counter()
        with timing.request_timers() as timers:
            response = self.get_response(request)
        elapsed = perf_counter() - started
        route = labels.route(request)
        instruments.http_request_duration.labels(
            route, labels.method(request), str(response.status_code)).observe(elapsed)
        instruments.http_request_db.labels(route).observe(timers.db)
        instruments.http_request_cache.labels(route).observe(timers.cache)
        return response
