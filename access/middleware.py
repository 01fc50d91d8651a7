"""Access control's middleware: session cookies the site cannot have made, and the page a
locked-out login answers.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from access.client_address import client_address
from access.lockout import LockedOut

SESSION_KEY_RE = re.compile(r"[a-z0-9]{32}")


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
    """Answer a locked-out login with 429, `Retry-After` and a page that says why.

    The password backend refuses a locked-out check without running it and
    raises `LockedOut` (access/password_backend.py) out of `authenticate()`
    and the login view; the login form alone would say "wrong password",
    which is not true and invites another try. The API's Basic
    authentication answers its own 429 (access/basic_auth.py).

    The page's context: `retry_after` and `minutes` (the wait), `scope`
    (what is locked out: "address", "user" or "device"), `address` and
    `username` (as the client sent it), and the commands that let the site's
    owner in at once: `clear_user_command`, `clear_address_command` and
    `changepassword_command` (for when the password may be known).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, LockedOut):
            return None
        page = TemplateResponse(request, "access/locked_out.html",
                                _page_context(request, exception), status=429)
        page["Retry-After"] = str(exception.retry_after)
        return page.render()


def _page_context(request: HttpRequest, exception: LockedOut) -> dict[str, object]:
    address = client_address(request)
    username = request.POST.get("username", "") if request.method == "POST" else ""
    name = shlex.quote(username) if username else "NAME"
    return {
        "retry_after": exception.retry_after,
        "minutes": max(1, -(-exception.retry_after // 60)),
        "scope": exception.scope,
        "address": address,
        "username": username,
        "clear_user_command": f"python manage.py clear_lockout --user {name}",
        "clear_address_command": f"python manage.py clear_lockout --address {address}",
        "changepassword_command": f"python manage.py changepassword {name}",
    }
