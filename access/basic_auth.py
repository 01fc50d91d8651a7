"""HTTP Basic on the API: a scripting opt-in (TAOS_API_BASIC_AUTH), never a browser challenge.

A browser that was once challenged for Basic credentials caches them and
sends them with any later request to the site, also a cross-site form's, and
Basic checks no CSRF token. So the API never challenges for Basic (anonymous
callers are told about Bearer only), and it accepts Basic only when the
operator turned it on for scripts. Password checks go through the lockout
(access/password_backend.py); a locked-out one (`LockedOut`, raised out of
`authenticate()`) answers 429. Before either, each address gets at most
TAOS_BASIC_AUTH_CHECKS_PER_SECOND password checks a second
(access/hasher_budget.py), also with the right password; past it 429 too.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.authentication import BasicAuthentication, get_authorization_header
from rest_framework.request import Request

from access import hasher_budget, signals
from access.client_address import client_address
from access.lockout import LockedOut
from api.error_codes import ErrorCode


class AuthenticationLockedOut(exceptions.APIException):
    """429 with `Retry-After`; not an errors.ApiError, whose module imports DRF's
    views, which import the authentication classes: this module."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = ErrorCode.AUTHENTICATION_LOCKED_OUT
    default_detail = "Too many failed authentication attempts; retry later."

    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed authentication attempts; retry in {retry_after} s.")
        self.headers = {"Retry-After": str(retry_after)}


class PasswordChecksThrottled(exceptions.APIException):
    """429: this address spent its password checks for this second (access/hasher_budget.py)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = ErrorCode.THROTTLED
    default_detail = "Too many password checks from this address; retry in 1 s."

    def __init__(self) -> None:
        super().__init__()
        self.headers = {"Retry-After": str(hasher_budget.WINDOW_SECONDS)}


def locked_out(retry_after: int) -> AuthenticationLockedOut:
    return AuthenticationLockedOut(retry_after)


class OptInBasicAuthentication(BasicAuthentication):
    """`Authorization: Basic ...` when TAOS_API_BASIC_AUTH is on; refused otherwise."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        if not settings.TAOS_API_BASIC_AUTH:
            parts = get_authorization_header(request).split()
            if parts and parts[0].lower() == b"basic":
                raise exceptions.AuthenticationFailed(
                    "HTTP Basic authentication is turned off on this site; use a token.",
                    code=ErrorCode.AUTHENTICATION_FAILED)
            return None
        return super().authenticate(request)

    def authenticate_credentials(self, userid: str, password: str,
                                 request: Request | None = None) -> tuple[Any, None]:
        if request is not None and not hasher_budget.spend(client_address(request)):
            signals.send_authentication(signals.BASIC, signals.THROTTLED)
            raise PasswordChecksThrottled()
        try:
            return super().authenticate_credentials(userid, password, request)
        except LockedOut as exc:
            raise locked_out(exc.retry_after) from None

    def authenticate_header(self, request: Request) -> None:
        return None  # never a Basic challenge: browsers would cache the password
