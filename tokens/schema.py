"""OpenAPI security schemes for the Bearer token classes (imported in AppConfig.ready)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AgentTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.AgentTokenAuthentication"
    name = "agentToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "taos_...",
                "description": "An agent token: reaches only agent endpoints."}


class OperatorTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.OperatorTokenAuthentication"
    name = "operatorToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "taosop_...",
                "description": "A personal operator token: acts as its Django user."}
