"""Django's redirecting middleware made to keep an unsafe request's method.

Clients (browsers, urllib, requests, httpx) follow a 301 or 302 to a POST
with a GET: the client then sees the answer to a GET (a list, 200) and
believes its create succeeded. So when Django's own middleware redirects a
POST, PUT, PATCH or DELETE (APPEND_SLASH on /admin/..., also the admin's own
catch-all view, SECURE_SSL_REDIRECT) it answers 308 (or 307) instead, which a
client must repeat with the same method and body. Safe requests keep Django's
301. A view's own redirect (the admin's redirect after a saved form) is never
touched. Under /api/ nothing redirects at all (api/middleware.py,
`ApiTrailingSlashMiddleware`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.middleware import common, security
from django.utils.http import escape_leading_slashes

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
