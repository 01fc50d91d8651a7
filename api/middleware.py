"""The API's own middleware: its body limit, its JSON-only unsafe requests, its optional
trailing slash.

Every path under /api/ answers errors as problem details (api/errors.py);
nothing under /api/ redirects (see `ApiTrailingSlashMiddleware`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import is_valid_path

from api.error_codes import ErrorCode
from api.errors import problem

API_PREFIX = "/api/"
# Methods a cross-site HTML form or a "simple" cross-site fetch can send
# with the browser's credentials (POST), and the ones that carry a body.
JSON_ONLY_METHODS = {"POST", "PUT", "PATCH"}
JSON_MEDIA_TYPE = "application/json"


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


class ApiJsonOnlyMiddleware:
    """Answer 415 under /api/ to a POST, PUT or PATCH that is not `application/json`.

    A cross-site HTML form can only send urlencoded, multipart or plain-text
    bodies, and a cross-site script cannot send `application/json` without
    a CORS preflight, which this site never grants. So no credential a
    browser attaches by itself (a session cookie, a cached password) can make
    an unsafe API request from another site, also to an endpoint that reads
    no body (token issue and rotate), which must declare JSON too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in JSON_ONLY_METHODS and is_api_request(request) \
                and request.content_type.lower() != JSON_MEDIA_TYPE:
            return problem(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                           f"{request.method} requests under /api/ must send "
                           f"Content-Type: {JSON_MEDIA_TYPE}, also without a body.")
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
