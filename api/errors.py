"""API errors as RFC 9457 problem details with a stable machine-readable `code`.

Every error under /api/ goes through `problem()`: DRF exceptions via
`exception_handler`, Django's 404/500 via the handlers in `urls.py`, and the
body limit via the middleware. No traceback or SQL ever reaches a client.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from api.error_codes import ErrorCode
from idempotency.errors import IdempotencyError
from request_context.ids import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
DATABASE_RETRY_AFTER_SECONDS = 5


class ApiError(exceptions.APIException):
    """An API error with a status, a stable code and a human detail.

    Services raise subclasses (or instances) of this; the exception handler
    renders them as problem details.
    """

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = ErrorCode.BAD_REQUEST
    default_detail = "The request could not be processed."

    def __init__(self, detail: str | None = None, *, code: str | None = None,
                 status_code: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail, code)
        if code is not None:
            self.default_code = code
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers or {}


class Conflict(ApiError):
    status_code = status.HTTP_409_CONFLICT
    default_code = ErrorCode.CONFLICT
    default_detail = "The request conflicts with the current state."


def problem_body(status_code: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    # The ID of the request (its X-Request-ID), to find its log lines.
    if (request_id := current_request_id()) is not None:
        body["request_id"] = request_id
    body.update(extra)
    return body


def problem(status_code: int, code: str, detail: str, *,
            headers: dict[str, str] | None = None, **extra: Any) -> JsonResponse:
    """Return a problem-details response outside DRF (middleware, handlers)."""
    response = JsonResponse(
        problem_body(status_code, code, detail, **extra),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def idempotency_error_response(error: IdempotencyError) -> JsonResponse:
    """Return an error of the idempotency package as problem details (IDEMPOTENCY_ERROR_RESPONSE).

    Its code is a member of ErrorCode, its status, detail and headers
    (`Retry-After`) are the error's.
    """
    return problem(error.status, ErrorCode(error.code), error.detail, headers=error.headers)


def database_unavailable() -> JsonResponse:
    return problem(
        503, ErrorCode.DATABASE_UNAVAILABLE, "The database is unavailable; retry shortly.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def _first_code(codes: Any) -> str:
    """Return the code of a non-field error, which DRF may nest in lists/dicts."""
    while isinstance(codes, (list, dict)):
        if not codes:
            return ErrorCode.INVALID
        codes = codes[0] if isinstance(codes, list) else next(iter(codes.values()))
    return str(codes)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every exception raised in a DRF view as problem details."""
    if isinstance(exc, RequestDataTooBig):
        exc = ApiError("The request body is too large.", code=ErrorCode.REQUEST_TOO_LARGE,
                       status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    elif isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        exc = ApiError("The database is unavailable; retry shortly.",
                       code=ErrorCode.DATABASE_UNAVAILABLE, status_code=503,
                       headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DatabaseError):
        # An unexpected database error is a bug: log it, never echo its SQL.
        logger.exception("database error in API view")
        exc = ApiError("Internal server error.", code=ErrorCode.SERVER_ERROR, status_code=500)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # Django's handler500 renders it (as a problem, under /api/).

    assert isinstance(exc, exceptions.APIException)
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.get_full_details()
        if isinstance(errors, dict):
            body = problem_body(400, "invalid", "The request is invalid; see errors.",
                                errors=errors)
        else:
            details = errors if isinstance(errors, list) else [errors]
            first = details[0] if details else {"message": "Invalid input.", "code": "invalid"}
            body = problem_body(400, first.get("code", "invalid"), str(first.get("message")),
                                errors={"non_field_errors": details})
    else:
        detail = exc.detail
        code = _first_code(exc.get_codes())
        if isinstance(detail, (list, dict)):
            detail = str(next(iter(detail.values())) if isinstance(detail, dict) else detail[0])
        body = problem_body(response.status_code, code, str(detail))
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    for name, value in getattr(exc, "headers", {}).items():
        response[name] = value
    return response
