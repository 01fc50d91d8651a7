"""Middleware shared by the whole API."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import is_valid_path

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


class ApiTrailingSlashMiddleware:
    """Serve an /api/ path without its trailing slash as the path with it: no redirect.

    A client follows a 301/302 to a POST with a GET (a create then "succeeds"
    with the list's 200), and urllib refuses to follow a 307/308 to one: the
    only answer that is the same for every client is the answer itself. The
    request's path becomes the one with the slash, so everything after it
    (URL resolution, the idempotency fingerprint, links) sees one form, and
    CommonMiddleware finds nothing to redirect. Every route under /api/, a
    new one too, is covered; the schema documents the form with the slash.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if is_api_request(request) and not path.endswith("/"):
            urlconf = getattr(request, "urlconf", None)
            if not is_valid_path(path, urlconf):
                match = is_valid_path(f"{path}/", urlconf)
                if match and getattr(match.func, "should_append_slash", True):
                    request.path_info = f"{path}/"
                    request.path = f"{request.path}/"
        return self.get_response(request)
