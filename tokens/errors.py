"""Token errors with stable codes, rendered as problem details."""

from __future__ import annotations

from rest_framework import status

from api.error_codes import ErrorCode
from api.errors import ApiError, Conflict


class TokenAlreadyActive(Conflict):
    default_code = ErrorCode.TOKEN_ALREADY_ACTIVE
    default_detail = "The agent already has an active token; rotate it to get a new one."


class TokenNotFound(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = ErrorCode.TOKEN_NOT_FOUND
    default_detail = "The agent has no active token."


class AgentGone(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = ErrorCode.NOT_FOUND
    default_detail = "The agent no longer exists."


class OperatorTokenForOthersForbidden(ApiError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = ErrorCode.OPERATOR_TOKEN_FOR_OTHERS_FORBIDDEN
    default_detail = (
        "You may add operator tokens for yourself only: a token for another user would let "
        "you act as that user. Ask a superuser (or a user with the permission "
        "'tokens.add_operatortoken_for_others')."
    )
