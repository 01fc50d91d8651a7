"""The API's own middleware: its body limit, its JSON-only unsafe requests, its optional
trailing slash; and, for every path, the request charsets the site can read.

Every path under /api/ answers errors as problem details (api/errors.py);
nothing under /api/ redirects (see `ApiTrailingSlashMiddleware`).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import is_valid_path

from api.error_codes import ErrorCode
from api.errors import problem

API_PREFIX = "/api/"
# Methods a cross-site HTML form or a "simple" cross-site fetch can send
# with the browser's credentials (POST), and the ones that carry a body.
JSON_ONLY_METHODS = {"POST", "PUT", "PATCH"}
JSON_MEDIA_TYPE = "application/json"
# The bodies an HTML form sends (text/plain aside, which Django never parses).
HTML_FORM_MEDIA_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}
# Django decodes this body itself (request.POST), as UTF-8 spelled exactly so.
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


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


def unreadable_charset(request: HttpRequest) -> str | None:
    """Say why the site cannot decode the request body's declared charset, or None.

    A charset Python knows may still be no text encoding (`rot13`, `base64`,
    `zlib`, `hex`...: bytes-to-bytes codecs), which `bytes.decode` refuses
    with a LookupError; and Django reads urlencoded forms declared `utf-8`
    only, raising BadRequest from wherever `request.POST` is read: the CSRF
    check, then again the 400 and 500 pages' own CSRF decorator.
    """
    charset = request.content_params.get("charset")
    if charset is None:
        return None
    try:
        is_text = codecs.lookup(charset)._is_text_encoding
    except (LookupError, ValueError):  # ValueError: NUL and the like in the name
        return f"the charset {charset[:40]!r} is not a known text encoding"
    if not is_text:
        return f"the charset {charset[:40]!r} is not a text encoding"
    if request.content_type == FORM_MEDIA_TYPE and charset.lower() != "utf-8":
        return f"{FORM_MEDIA_TYPE} bodies must be UTF-8 (charset=utf-8), not {charset[:40]!r}"
    return None


class RequestCharsetMiddleware:
    """Answer 415 `unsupported_media_type` to a body whose charset the site cannot decode.

    On every path, before anything reads the body (the CSRF check reads
    forms): a problem under /api/, plain text elsewhere (the admin's forms).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        reason = unreadable_charset(request)
        if reason is None:
            return self.get_response(request)
        detail = f"Cannot read the request body: {reason}. Send UTF-8."
        if is_api_request(request):
            return problem(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, detail)
        return HttpResponse(f"{detail} ({ErrorCode.UNSUPPORTED_MEDIA_TYPE})\n", status=415,
                            content_type="text/plain; charset=utf-8")


class _CsrfCheck(CsrfViewMiddleware):
    """Django's CSRF check, answering the reason it would refuse instead of a 403 page."""

    def _reject(self, request: HttpRequest, reason: str) -> str:  # type: ignore[override]
        return reason


def passes_csrf_check(request: HttpRequest) -> bool:
    """Return whether `request` passes Django's CSRF check (origin and token), as
    DRF's SessionAuthentication checks a session's unsafe request."""
    check = _CsrfCheck(lambda _request: HttpResponse())
    check.process_request(request)
    return check.process_view(request, None, (), {}) is None


def ambient_credentials_only(request: HttpRequest) -> bool:
    """Return whether the only credentials `request` may carry are ones a browser
    sends by itself: Basic (cached once entered), or a session cookie not backed
    by a CSRF token. A Bearer token is never sent by a browser on its own.
    """
    scheme = request.headers.get("Authorization", "").split(" ", 1)[0].lower()
    if scheme == "bearer":
        return False
    if scheme == "basic":
        return True
    if request.content_type in HTML_FORM_MEDIA_TYPES:
        return True  # what a cross-site form sends; no API route reads it, nor does this
    return not passes_csrf_check(request)


class ApiJsonOnlyMiddleware:
    """Answer 415 under /api/ to a POST, PUT or PATCH that is not `application/json`,
    when it may carry only credentials a browser attaches by itself.

    A cross-site HTML form can only send urlencoded, multipart or plain-text
    bodies, and a cross-site script cannot send `application/json` without
    a CORS preflight, which this site never grants. So no credential a
    browser attaches by itself (a cached Basic password, a session cookie)
    can make an unsafe API request from another site, also to an endpoint
    that reads no body. The rule is lifted where it defends nothing: a
    Bearer token (no browser sends one unasked), and a request that passes
    Django's CSRF check (what a session's unsafe request must pass anyway,
    and no other site's page can). Clients generated from the schema and
    the /api/docs/ page can then call the body-less operations (deploy,
    retry, token issue and rotate) with or without a body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in JSON_ONLY_METHODS and is_api_request(request) \
                and request.content_type.lower() != JSON_MEDIA_TYPE \
                and ambient_credentials_only(request):
            return problem(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                           f"{request.method} requests under /api/ must send "
                           f"Content-Type: {JSON_MEDIA_TYPE}, also without a body, "
                           f"unless they carry a Bearer token or a CSRF token.")
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
