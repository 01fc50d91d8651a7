"""The OpenAPI description of access control's own authentication class (HTTP Basic)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class OptInBasicScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme of `OptInBasicAuthentication`; registered by AccessConfig.ready()."""

    target_class = "access.basic_auth.OptInBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "basic",
                "description": "HTTP Basic, for scripts: accepted only when the site "
                               "sets TAOS_API_BASIC_AUTH=1; prefer an operator token."}
