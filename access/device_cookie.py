"""Device cookies: a client that logged in as a user before is not locked out by others' failures.

OWASP's "Slow down online guessing attacks with device cookies": after a
successful password login (the admin login, or an API call with HTTP Basic)
the response carries a signed cookie naming the user and a random nonce.
A later password check for that user that presents it counts its failures
against that device alone (TAOS_AUTH_DEVICE_FAILURE_LIMIT), and the per-user
count (which anyone can fill from anywhere) does not apply to it; without a
valid one, the per-user limit applies as before. The per-address limit
applies to every client. The cookie is signed with SECRET_KEY
(`django.core.signing`, its own salt) and lasts TAOS_DEVICE_COOKIE_AGE
seconds; it proves an earlier login from that client, nothing more: it logs
nobody in.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

COOKIE_NAME = "taos_device"
SALT = "access.device_cookie"


def make(user_pk: Any) -> str:
    """Return a new signed device cookie value for the user `user_pk`."""
    return signing.dumps({"u": str(user_pk), "n": secrets.token_urlsafe(16)}, salt=SALT)


def nonce(value: str | None, user_pk: Any) -> str | None:
    """Return the nonce of `value` if it is a valid, unexpired device cookie of `user_pk`."""
    if not value or user_pk is None:
        return None
    try:
        payload = signing.loads(value, salt=SALT, max_age=settings.TAOS_DEVICE_COOKIE_AGE)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("u") != str(user_pk):
        return None
    found = payload.get("n")
    return found if isinstance(found, str) and found else None


def request_nonce(request: Any, user_pk: Any) -> str | None:
    """Return the nonce of the device cookie `request` carries for `user_pk`, if valid."""
    return nonce(getattr(request, "COOKIES", {}).get(COOKIE_NAME), user_pk)


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
                and request_nonce(request, user.pk) is None):
            response.set_cookie(
                COOKIE_NAME, make(user.pk), max_age=settings.TAOS_DEVICE_COOKIE_AGE,
                secure=settings.TAOS_HTTPS, httponly=True, samesite="Lax")
        return response
