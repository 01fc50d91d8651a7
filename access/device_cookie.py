"""Device cookies: a client that logged in as a user before is not locked out by others' failures.

OWASP's "Slow down online guessing attacks with device cookies": after a
successful password login (the admin login, or an API call with HTTP Basic)
the response carries a signed cookie naming the user and a random nonce.
A later password check for that user that presents it counts its failures
against that device alone (TAOS_AUTH_DEVICE_FAILURE_LIMIT), and the per-user
count (which anyone can fill from anywhere) does not apply to it; without a
valid one, the per-user limit applies as before. The per-address limit
applies to every client. The cookie is signed with SECRET_KEY
(`django.core.signing`, its own salt), lasts TAOS_DEVICE_COOKIE_AGE
seconds and carries a mark of the user's password hash (the first 16 hex
digits of Django's session auth hash, an HMAC keyed with SECRET_KEY): a new
password voids every device cookie of the user, as it ends their sessions.
It proves an earlier login from that client, nothing more: it logs nobody in.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.crypto import constant_time_compare

COOKIE_NAME = "taos_device"
SALT = "access.device_cookie"


def _password_mark(user: Any) -> str:
    """A mark of `user`'s current password hash: a new password, a new mark."""
    return user.get_session_auth_hash()[:16]


def make(user: Any) -> str:
    """Return a new signed device cookie value for `user` and their current password."""
    return signing.dumps({"u": str(user.pk), "n": secrets.token_urlsafe(16),
                          "p": _password_mark(user)}, salt=SALT)


def nonce(value: str | None, user: Any) -> str | None:
    """Return the nonce of `value` if it is a valid, unexpired device cookie of `user`.

    Valid: signed here, not older than TAOS_DEVICE_COOKIE_AGE, made for this
    user while they had the password they have now.
    """
    if not value or user is None or user.pk is None:
        return None
    try:
        payload = signing.loads(value, salt=SALT, max_age=settings.TAOS_DEVICE_COOKIE_AGE)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("u") != str(user.pk):
        return None
    if not constant_time_compare(str(payload.get("p", "")), _password_mark(user)):
        return None
    found = payload.get("n")
    return found if isinstance(found, str) and found else None


def request_nonce(request: Any, user: Any) -> str | None:
    """Return the nonce of the device cookie `request` carries for `user`, if valid."""
    return nonce(getattr(request, "COOKIES", {}).get(COOKIE_NAME), user)


def _password_login(request: HttpRequest, response: HttpResponse) -> bool:
    """Whether `request` logged in with a password and it was right."""
    if request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0].lower() == "basic":
        return response.status_code < 400
    return (request.method == "POST" and response.status_code == 302
            and request.path == reverse("admin:login"))


class DeviceCookieMiddleware:
    """Give a client that just logged in with a password a device cookie for that user.

    A client that already holds a valid one for the user keeps it (its own
    failure count goes on); any other gets a new one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and user.pk is not None
                and _password_login(request, response)
                and request_nonce(request, user) is None):
            response.set_cookie(
                COOKIE_NAME, make(user), max_age=settings.TAOS_DEVICE_COOKIE_AGE,
                secure=settings.TAOS_HTTPS, httponly=True, samesite="Lax")
        return response
