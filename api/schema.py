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
        "request_id": {"type": "string", "maxLength": 128,
                       "description": "The request's ID (its X-Request-ID response header), "
                                      "on every line the server logged for it."},
    },
    "required": ["type", "title", "status", "detail", "code"],
}

# The request body of an operation that reads none (deploy, retry, token issue
# and rotate): optional, so a client generated from the schema declares
# `Content-Type: application/json` and may send `{}` or nothing.
OPTIONAL_EMPTY_JSON_BODY = {"application/json": {
    "type": "object",
    "description": "Optional; this operation reads no body. Send {} or nothing.",
}}

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


# DRF's CharField refuses NUL characters in every string it parses, and trims
# whitespace (Python's `str.strip()`) before it checks that a required string
# is not blank. The whitespace is spelled out: `\s` of JSON Schema's regex
# dialect (ECMA-262) lacks U+001C-U+001F and U+0085, which Python strips, and
# has U+FEFF, which Python keeps.
PYTHON_WHITESPACE = ("\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a"
                     "\\u2028\\u2029\\u202f\\u205f\\u3000")
NO_NUL_PATTERN = "^[^\\x00]*$"
NOT_BLANK_PATTERN = f"^[^\\x00]*[^{PYTHON_WHITESPACE}\\x00][^\\x00]*$"


def _describe_strings(schema: dict[str, Any]) -> None:
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") == "string" and not {"pattern", "enum", "format"} & prop.keys() \
                and not prop.get("readOnly"):
            blankable = name not in required or not prop.get("minLength")
            prop["pattern"] = NO_NUL_PATTERN if blankable else NOT_BLANK_PATTERN
        _describe_strings(prop)


def add_problem_responses(result: dict[str, Any], generator: Any, request: Any,
                          public: bool) -> dict[str, Any]:
    """Document what every operation may answer and what its inputs really accept.

    Adds the Problem schema and the common error responses to every operation,
    and "no NUL" to request strings and string parameters (DRF refuses NUL in
    any CharField, and blank required ones). Path parameters an app documents
    itself (the agent's `{slug}`: agents/schema.py) are left to it.
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, component in schemas.items():
        if name.endswith("Request"):
            _describe_strings(component)
    schemas["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.setdefault("schema", {})
                if parameter.get("in") == "path" and parameter.get("name") == "slug":
                    continue
                if schema.get("type") == "string" and not {"pattern", "enum"} & schema.keys():
                    schema["pattern"] = NO_NUL_PATTERN
            responses = operation.setdefault("responses", {})
            for status, description in COMMON_PROBLEMS.items():
                responses.setdefault(status, {
                    "description": description,
                    "content": {"application/problem+json": {"schema": ref}},
                })
    return result
