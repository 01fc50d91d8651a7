from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from api.error_codes import ErrorCode
from tokens.authentication import AgentPrincipal


class NotAnAgent(BasePermission):
    """Refuse agent tokens (403); anyone else goes on to the next check."""

    message = "An agent token cannot use operator endpoints."
    code = ErrorCode.AGENT_TOKEN_FORBIDDEN

    def has_permission(self, request: Request, view: Any) -> bool:
        return not isinstance(request.user, AgentPrincipal)


class IsAgent(BasePermission):
    """Allow only requests authenticated by an agent token."""

    message = "This endpoint is for agents: authenticate with an agent token."
    code = ErrorCode.AGENT_TOKEN_REQUIRED

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, AgentPrincipal)
