"""OpenAPI post-processing of the agents app: the `{slug}` path parameter's pattern."""

from __future__ import annotations

from typing import Any

from agents.naming import RESERVED_SLUGS


def slug_pattern() -> str:
    """Return the pattern of an agent's slug: lowercase words joined by `-`, not reserved."""
    reserved = "|".join(sorted(RESERVED_SLUGS))
    return f"^(?!({reserved})$)[a-z0-9]+(-[a-z0-9]+)*$"


def add_slug_pattern(result: dict[str, Any], generator: Any, request: Any,
                     public: bool) -> dict[str, Any]:
    """Give every `{slug}` path parameter (an agent's slug) its real pattern."""
    pattern = slug_pattern()
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") == "slug":
                    parameter.setdefault("schema", {})["pattern"] = pattern
    return result
