"""The errors an idempotent request can answer, each with a status, a stable code and a detail.

They are plain exceptions of this package: `conf.error_response` turns one
into the HTTP response (the project chooses how, `IDEMPOTENCY_ERROR_RESPONSE`;
`json_error_response` by default).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import ClassVar

from django.http import JsonResponse


class ErrorCode(enum.StrEnum):
    """Every `code` this package answers with: a stable contract for clients."""

    KEY_INVALID = "idempotency_key_invalid"
    KEY_REQUIRED = "idempotency_key_required"
    KEY_IN_USE = "idempotency_key_in_use"
    KEY_REUSED = "idempotency_key_reused"
    REQUEST_TOO_LARGE = "request_too_large"
    SERVER_ERROR = "server_error"


class IdempotencyError(Exception):
    """An error answered instead of running (or instead of keeping) the view's response."""

    status: ClassVar[int] = 400
    code: ClassVar[ErrorCode]
    default_detail: ClassVar[str]

    def __init__(self, detail: str | None = None, *,
                 headers: Mapping[str, str] | None = None) -> None:
        self.detail = detail or self.default_detail
        self.headers = dict(headers or {})
        super().__init__(self.detail)


class IdempotencyKeyInvalid(IdempotencyError):
    code = ErrorCode.KEY_INVALID
    default_detail = (
        "The Idempotency-Key header must be 1 to 255 visible ASCII characters, "
        'optionally in double quotes.'
    )


class IdempotencyKeyRequired(IdempotencyError):
    code = ErrorCode.KEY_REQUIRED
    default_detail = "This endpoint requires an Idempotency-Key header."


class IdempotencyKeyReused(IdempotencyError):
    status = 422
    code = ErrorCode.KEY_REUSED
    default_detail = (
        "This Idempotency-Key was already used for a different request "
        "(method, path or body); use a new key for a new request."
    )


class IdempotencyKeyInUse(IdempotencyError):
    status = 409
    code = ErrorCode.KEY_IN_USE
    default_detail = (
        "A request with this Idempotency-Key is still being processed; retry after a while."
    )

    def __init__(self, *, retry_after: float) -> None:
        super().__init__(headers={"Retry-After": str(max(1, math.ceil(retry_after)))})


class NoWaiterSlot(IdempotencyKeyInUse):
    """The key's holder and its waiters fill all of its slots: refused at once, without waiting.

    The same answer as IdempotencyKeyInUse (409 `key_in_use`); a separate
    class so that a receiver of `idempotency.signals.outcome` can tell the two.
    """

    def __init__(self) -> None:
        super().__init__(retry_after=1)


class RequestTooLarge(IdempotencyError):
    """The body, which the fingerprint reads, is above DATA_UPLOAD_MAX_MEMORY_SIZE."""

    status = 413
    code = ErrorCode.REQUEST_TOO_LARGE
    default_detail = "The request body is too large."


class ServerError(IdempotencyError):
    """The view answered a success in a transaction marked for rollback: nothing was kept."""

    status = 500
    code = ErrorCode.SERVER_ERROR
    default_detail = "Internal server error."


def json_error_response(error: IdempotencyError) -> JsonResponse:
    """Return `error` as `{"code": ..., "detail": ...}` with its status and headers.

    The default of IDEMPOTENCY_ERROR_RESPONSE.
    """
    response = JsonResponse({"code": str(error.code), "detail": error.detail},
                            status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response
