"""Publish the idempotency policy in the OpenAPI description of each opted-in operation.

The IETF Idempotency-Key draft asks a server to publish its policy where
clients look for it. An operation opts in with `@idempotent`, which adds the
`Idempotency-Key` header parameter; this hook finds that parameter and
appends the policy, with the retention read from the settings at schema time.
"""

from __future__ import annotations

from typing import Any

from idempotency import conf
from idempotency.keys import HEADER
from idempotency.models import KEY_MAX_LENGTH
from idempotency.protocol import REPLAYED_HEADER


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def policy() -> str:
    """Return the idempotency policy, in Markdown, with the current settings."""
    ttl = int(conf.get("TTL_SECONDS"))
    wait = int(conf.get("WAIT_SECONDS"))
    waiters = int(conf.get("WAITERS_PER_KEY"))
    required = ("Required: a request without it is 400 `idempotency_key_required`."
                if conf.get("REQUIRED") else
                "Optional: a request without it runs normally, with no protection.")
    return "\n".join([
        f"**Idempotency** (`{HEADER}` header, IETF draft-ietf-httpapi-idempotency-key-header).",
        "",
        f"- Key: 1 to {KEY_MAX_LENGTH} visible ASCII characters, e.g. a UUID; the quoted "
        f'form `"..."` is the same key; anything else is 400 `idempotency_key_invalid`. '
        f"{required}",
        f"- Retention: a completed key is kept for {ttl} seconds ({_duration(ttl)}, "
        "`IDEMPOTENCY_TTL_SECONDS`); after that the same key runs anew.",
        "- Scope: per principal (the authenticated caller): another principal's "
        "identical key is an independent key.",
        "- Replay: the same key with the same method, path (with or without its trailing "
        "slash) and JSON body gets the first response again: its status, body, "
        f"`Content-Type` and `Location`, with `{REPLAYED_HEADER}: true`; the operation does "
        f"not run again. A first run answers `{REPLAYED_HEADER}: false`.",
        "- Only successes are kept: a response >= 400 is not stored (retry with the same "
        "key), nor one that reveals a secret.",
        f"- 409 `idempotency_key_in_use`: the key's first request is still running; a retry "
        f"waits up to {wait} seconds (`IDEMPOTENCY_WAIT_SECONDS`) for it, then answers 409 "
        f"with `Retry-After`. Only {waiters} retries of a key wait at once "
        "(`IDEMPOTENCY_WAITERS_PER_KEY`); any more answer 409 with `Retry-After` at once.",
        "- 422 `idempotency_key_reused`: the key was used for a different request "
        "(method, path or body); nothing runs.",
    ])


def _has_key_parameter(operation: dict[str, Any]) -> bool:
    return any(parameter.get("in") == "header" and parameter.get("name") == HEADER
               for parameter in operation.get("parameters", []))


def add_idempotency_policy(result: dict[str, Any], generator: Any, request: Any,
                           public: bool) -> dict[str, Any]:
    """Append the policy to each operation that takes an Idempotency-Key header.

    Also document the `Idempotent-Replayed` header on its successful responses.
    """
    text = policy()
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or not _has_key_parameter(operation):
                continue
            described = operation.get("description", "").rstrip()
            operation["description"] = f"{described}\n\n{text}" if described else text
            for status, response in operation.get("responses", {}).items():
                if status.startswith("2"):
                    response.setdefault("headers", {})[REPLAYED_HEADER] = {
                        "description": "`true`: a stored response replayed for a retried key; "
                                       "`false`: this request ran.",
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    }
    return result
