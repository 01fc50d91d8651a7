"""Token errors with stable codes, rendered as problem details."""

from __future__ import annotations

from rest_framework import status

from tinyagentos_site.errors import ApiError, Conflict


class TokenAlreadyActive(Conflict):
    default_code = "token_already_active"
    default_detail = "The agent already has an active token; rotate it to get a new one."


class TokenNotFound(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "token_not_found"
    default_detail = "The agent has no active token."


class AgentGone(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"
    default_detail = "The agent no longer exists."
