"""The errors an idempotent request can answer, each with a stable code."""

from __future__ import annotations

import math

from rest_framework import status

from tinyagentos_site.error_codes import ErrorCode
from tinyagentos_site.errors import ApiError, Conflict


class IdempotencyKeyInvalid(ApiError):
    default_code = ErrorCode.IDEMPOTENCY_KEY_INVALID
    default_detail = (
        "The Idempotency-Key header must be 1 to 255 visible ASCII characters, "
        'optionally in double quotes.'
    )


class IdempotencyKeyRequired(ApiError):
    default_code = ErrorCode.IDEMPOTENCY_KEY_REQUIRED
    default_detail = "This endpoint requires an Idempotency-Key header."


class IdempotencyKeyReused(ApiError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = ErrorCode.IDEMPOTENCY_KEY_REUSED
    default_detail = (
        "This Idempotency-Key was already used for a different request "
        "(method, path or body); use a new key for a new request."
    )


class IdempotencyKeyInUse(Conflict):
    default_code = ErrorCode.IDEMPOTENCY_KEY_IN_USE
    default_detail = (
        "A request with this Idempotency-Key is still being processed; retry after a while."
    )

    def __init__(self, *, retry_after: float):
        super().__init__(headers={"Retry-After": str(max(1, math.ceil(retry_after)))})
