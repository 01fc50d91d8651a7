"""OpenAPI security schemes for the Bearer token classes (imported in AppConfig.ready)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class _BearerScheme(OpenApiAuthenticationExtension):
    """An HTTP Bearer scheme; subclasses name the class, the token's prefix and its reach."""

    bearer_format = ""
    description = ""

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": self.bearer_format,
                "description": self.description}


class AgentTokenScheme(_BearerScheme):
    target_class = "tokens.authentication.AgentTokenAuthentication"
    name = "agentToken"
    bearer_format = "taos_..."
    description = "An agent token: reaches only agent endpoints."


class OperatorTokenScheme(_BearerScheme):
    target_class = "tokens.authentication.OperatorTokenAuthentication"
    name = "operatorToken"
    bearer_format = "taosop_..."
    description = "A personal operator token: acts as its Django user."
