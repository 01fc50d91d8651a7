"""Middleware shared by the whole API."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from tinyagentos_site.error_codes import ErrorCode
from tinyagentos_site.errors import problem

API_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


class ApiBodyLimitMiddleware:
    """Answer 413 under /api/ for a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE.

    DRF parsers read the request stream directly and skip Django's own size
    check, so the limit is enforced here, before anything reads the body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and is_api_request(request):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return problem(400, ErrorCode.INVALID_CONTENT_LENGTH, "Content-Length is not a number.")
            if length > limit:
                return problem(413, ErrorCode.REQUEST_TOO_LARGE,
                               f"The request body is larger than {limit} bytes.")
        return self.get_response(request)
