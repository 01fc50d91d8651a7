"""Django's error handlers: problem details under /api/, the defaults elsewhere."""

from __future__ import annotations

import sys

from django.core.exceptions import BadRequest
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseServerError
from django.views import defaults

from api.error_codes import ErrorCode
from api.errors import database_unavailable, problem
from api.middleware import is_api_request


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return problem(404, ErrorCode.NOT_FOUND, "Not found.")
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return problem(400, ErrorCode.BAD_REQUEST, "Bad request.")
    try:
        return defaults.bad_request(request, exception)
    except BadRequest:  # its CSRF decorator read the unreadable body again
        return HttpResponseBadRequest("Bad request.\n", content_type="text/plain")


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return problem(403, ErrorCode.PERMISSION_DENIED, "You do not have permission to do this.")
    return defaults.permission_denied(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        exc = sys.exc_info()[1]
        if isinstance(exc, (OperationalError, InterfaceError)):
            return database_unavailable()
        return problem(500, ErrorCode.SERVER_ERROR, "Internal server error.")
    try:
        return defaults.server_error(request)
    except BadRequest:
        return HttpResponseServerError("Internal server error.\n", content_type="text/plain")
