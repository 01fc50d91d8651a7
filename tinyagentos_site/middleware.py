"""The site's own middleware: the API's body limit and optional trailing slash, and
Django's redirecting middleware made to keep an unsafe request's method.

Method-keeping redirects: clients (browsers, urllib, requests, httpx) follow a
301 or 302 to a POST with a GET: the client then sees the answer to a GET (a
list, 200) and believes its create succeeded. So when Django's own middleware
redirects a POST, PUT, PATCH or DELETE (APPEND_SLASH on /admin/..., also the
admin's own catch-all view, SECURE_SSL_REDIRECT) it answers 308 (or 307)
instead, which a client must repeat with the same method and body. Safe
requests keep Django's 301. A view's own redirect (the admin's redirect after
a saved form) is never touched. Under /api/ nothing redirects at all: see
`ApiTrailingSlashMiddleware`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
)
from django.middleware import common, security
from django.template.response import TemplateResponse
from django.urls import is_valid_path
from django.utils.http import escape_leading_slashes

from tinyagentos_site.backends import lockout_of
from tinyagentos_site.error_codes import ErrorCode
from tinyagentos_site.errors import problem

API_PREFIX = "/api/"
# Methods a cross-site HTML form or a "simple" cross-site fetch can send
# with the browser's credentials (POST), and the ones that carry a body.
JSON_ONLY_METHODS = {"POST", "PUT", "PATCH"}
JSON_MEDIA_TYPE = "application/json"
SESSION_KEY_RE = re.compile(r"[a-z0-9]{32}")


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


class ForeignSessionCookieMiddleware:
    """Drop a session cookie the site cannot have made, before SessionMiddleware reads it.

    Django makes session keys of 32 lowercase letters and digits, and looks
    any cookie value up as one; on PostgreSQL a NUL in it is a 500. A key of
    another shape cannot name a session: the request is anonymous.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = settings.SESSION_COOKIE_NAME
        value = request.COOKIES.get(name)
        if value is not None and not SESSION_KEY_RE.fullmatch(value):
            del request.COOKIES[name]
        return self.get_response(request)


class LoginLockoutMiddleware:
    """Answer 429 with `Retry-After` and a page that says why to a locked-out login.

    The backend refused the password check without running it
    (tinyagentos_site/backends.py); the login form alone would say "wrong
    password", which is not true and invites another try.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        lockout = lockout_of(request)
        if lockout is None or is_api_request(request):
            return response
        page = TemplateResponse(request, "tinyagentos_site/locked_out.html",
                                {"retry_after": lockout.retry_after,
                                 "minutes": max(1, -(-lockout.retry_after // 60))},
                                status=429)
        page["Retry-After"] = str(lockout.retry_after)
        return page.render()


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


# --- Redirects that keep the method --------------------------------------------

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def keep_method(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """Return `response`, a middleware's 301/302, as 308/307 if `request` is unsafe."""
    if request.method in SAFE_METHODS or response.status_code not in (301, 302):
        return response
    redirect_class = (HttpResponsePermanentRedirect if response.status_code == 301
                      else HttpResponseRedirect)
    return redirect_class(response["Location"], preserve_request=True)


class CommonMiddleware(common.CommonMiddleware):
    """Django's CommonMiddleware; its APPEND_SLASH redirect of an unsafe request is a 308."""

    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        response = super().process_request(request)
        return None if response is None else keep_method(request, response)

    def process_response(self, request: HttpRequest,
                         response: HttpResponseBase) -> HttpResponseBase:
        answer = super().process_response(request, response)
        # Ours (in place of a 404), or the admin's catch-all view's own 301 to
        # the path plus a slash: an APPEND_SLASH redirect, whoever made it. A
        # view's redirect elsewhere (the admin's after a saved form) is left alone.
        if answer is not response or self._is_slash_redirect(request, answer):
            return keep_method(request, answer)
        return answer

    def _is_slash_redirect(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return not request.path_info.endswith("/") and (
            response.get("Location") == self.get_full_path_with_slash(request))

    def get_full_path_with_slash(self, request: HttpRequest) -> str:
        # Django raises in DEBUG for unsafe methods because its 301 would drop
        # the body; the 308 keeps it, so the redirect is right in DEBUG too.
        return escape_leading_slashes(request.get_full_path(force_append_slash=True))


class HttpsRedirectKeepsMethodMiddleware:
    """Put just before SecurityMiddleware: its HTTPS redirect of an unsafe request is a 308.

    SecurityMiddleware itself stays in MIDDLEWARE under its own name, which
    `check --deploy` looks for; this asks it first for an unsafe request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response
        self.security = security.SecurityMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method not in SAFE_METHODS:
            redirect = self.security.process_request(request)
            if redirect is not None:
                return keep_method(request, redirect)
        return self.get_response(request)
