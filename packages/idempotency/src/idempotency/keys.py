"""Read the Idempotency-Key header and fingerprint the request it came with."""

from __future__ import annotations

import hashlib
import json
import re

from idempotency.errors import IdempotencyKeyInvalid
from idempotency.models import KEY_MAX_LENGTH

HEADER = "Idempotency-Key"
META_KEY = "HTTP_IDEMPOTENCY_KEY"

_KEY_RE = re.compile(rf"[\x21-\x7e]{{1,{KEY_MAX_LENGTH}}}")
# The IETF draft sends the key as a Structured Field string: "..." with \" and \\.
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\["\\])*)"')
_UNESCAPE_RE = re.compile(r"\\([\"\\])")


def parse_key(raw: str) -> str:
    """Return the key in the header value `raw`, unquoted; raise if it is malformed.

    A key is 1 to KEY_MAX_LENGTH visible ASCII characters. `"abc"` (the
    draft's quoted form) and `abc` are the same key.
    """
    value = raw.strip(" \t")
    quoted = _QUOTED_RE.fullmatch(value)
    if quoted:
        value = _UNESCAPE_RE.sub(r"\1", quoted.group(1))
    if not _KEY_RE.fullmatch(value):
        raise IdempotencyKeyInvalid()
    return value


def canonical_body(body: bytes) -> bytes:
    """Return JSON `body` with sorted keys and no whitespace; any other body as it is."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return b"raw:" + body
    # A JSON string may carry a lone surrogate ("\ud800"), which has no UTF-8
    # form; "surrogatepass" still gives it bytes (and leaves all others alone).
    return b"json:" + json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8", "surrogatepass")


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """Return the SHA-256 (hex) of the method, the path and the canonical body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical_body(body)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
