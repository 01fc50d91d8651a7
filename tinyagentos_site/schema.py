"""OpenAPI post-processing: every operation documents its problem responses."""

from __future__ import annotations

from typing import Any

PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable error code."},
        "errors": {"type": "object", "additionalProperties": True},
    },
    "required": ["type", "title", "status", "detail", "code"],
}

# Statuses any API operation may answer besides its documented successes.
COMMON_PROBLEMS = {
    "400": "Invalid request (malformed JSON, validation errors, bad headers).",
    "401": "Not authenticated.",
    "403": "Not permitted.",
    "404": "Not found.",
    "405": "Method not allowed.",
    "409": "Conflict with the current state.",
    "413": "Request body too large.",
    "415": "Unsupported media type.",
    "422": "Unprocessable request.",
    "429": "Too many requests.",
    "500": "Internal server error.",
    "503": "Database unavailable; retry later.",
}


def add_problem_responses(result: dict[str, Any], generator: Any, request: Any,
                          public: bool) -> dict[str, Any]:
    """Add the Problem schema and the common error responses to every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, description in COMMON_PROBLEMS.items():
                responses.setdefault(status, {
                    "description": description,
                    "content": {"application/problem+json": {"schema": ref}},
                })
    return result
