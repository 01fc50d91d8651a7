"""Make, check and digest token secrets; nothing here touches the database.

A token is `<kind prefix><lookup><secret><checksum>`:

- kind prefix: `taos_` (agent) or `taosop_` (operator), so that secret
  scanners and humans can tell what leaked;
- lookup: 8 base62 characters, random and not secret; with the kind prefix it
  is the stored `prefix` that finds the row;
- secret: 32 base62 characters from `secrets` (about 190 bits);
- checksum: CRC32 of everything before it, 6 base62 characters, so that a
  mistyped, truncated or foreign token is refused without a database query.

Only an HMAC-SHA256 digest of the whole token, keyed with the server-side
pepper `TOKENS_PEPPER`, is stored.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass, field

from api.error_codes import ErrorCode

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_SET = frozenset(BASE62)

AGENT_PREFIX = "taos_"
OPERATOR_PREFIX = "taosop_"
LOOKUP_LENGTH = 8
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6  # 62**6 > 2**32
BODY_LENGTH = LOOKUP_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH
# The stored lookup prefix: the longer kind prefix plus the lookup part.
PREFIX_MAX_LENGTH = len(OPERATOR_PREFIX) + LOOKUP_LENGTH
DIGEST_LENGTH = 64  # hex SHA-256
# What the pepper's fingerprint is an HMAC of; never a token (it has no prefix).
PEPPER_FINGERPRINT_LABEL = b"tinyagentos tokens pepper fingerprint v1"


# Text shaped like one of our tokens, checksum valid or not: what logs redact.
TOKEN_SHAPED = re.compile(
    f"(?:{re.escape(OPERATOR_PREFIX)}|{re.escape(AGENT_PREFIX)})[0-9A-Za-z]{{{BODY_LENGTH}}}")


class Kind(enum.Enum):
    AGENT = AGENT_PREFIX
    OPERATOR = OPERATOR_PREFIX


class MalformedToken(ValueError):
    """The token cannot be one of ours; `code` says why."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ParsedToken:
    """A well-formed token: its kind, its lookup prefix, and the raw text."""

    kind: Kind
    prefix: str
    raw: str = field(repr=False)


@dataclass(frozen=True)
class NewSecret:
    """A freshly generated token: the plaintext, its lookup prefix and digest."""

    secret: str = field(repr=False)
    prefix: str
    digest: str = field(repr=False)


def base62(number: int, width: int) -> str:
    """Return `number` in base62, left-padded with zeros to `width` characters."""
    chars = []
    while number:
        number, rest = divmod(number, 62)
        chars.append(BASE62[rest])
    return "".join(reversed(chars)).rjust(width, BASE62[0])


def checksum(text: str) -> str:
    return base62(zlib.crc32(text.encode("ascii")), CHECKSUM_LENGTH)


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def digest(raw: str) -> str:
    """Return the stored form of `raw`: hex HMAC-SHA256 keyed with TOKENS_PEPPER."""
    from django.conf import settings

    return hmac.new(
        settings.TOKENS_PEPPER.encode(), raw.encode("ascii"), hashlib.sha256
    ).hexdigest()


def pepper_fingerprint(pepper: str) -> str:
    """Return which pepper `pepper` is, without saying it: hex HMAC-SHA256 of a fixed label.

    Stored with the tokens (tokens/pepper.py), it tells a start whose pepper
    is not the one the stored digests were made with; it reveals nothing of
    the pepper that a digest does not.
    """
    return hmac.new(pepper.encode(), PEPPER_FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


def digests_match(stored: str, raw: str) -> bool:
    return hmac.compare_digest(stored, digest(raw))


def generate(kind: Kind) -> NewSecret:
    """Return a new random token of `kind` with its lookup prefix and digest."""
    lookup = _random_base62(LOOKUP_LENGTH)
    head = kind.value + lookup + _random_base62(SECRET_LENGTH)
    raw = head + checksum(head)
    return NewSecret(secret=raw, prefix=kind.value + lookup, digest=digest(raw))


def parse(raw: str) -> ParsedToken:
    """Return the parsed `raw` token, or raise MalformedToken with a stable code.

    Only the text is checked (prefix, length, alphabet, checksum): no query.
    """
    if not raw:
        raise MalformedToken(ErrorCode.TOKEN_MISSING, "No token was given.")
    # Operator first: "taosop_" does not start with "taos_", but be explicit.
    for kind in (Kind.OPERATOR, Kind.AGENT):
        if raw.startswith(kind.value):
            break
    else:
        raise MalformedToken(
            ErrorCode.TOKEN_PREFIX_INVALID,
            f"The token does not start with {AGENT_PREFIX!r} or {OPERATOR_PREFIX!r}.",
        )
    body = raw[len(kind.value):]
    if len(body) != BODY_LENGTH or not _BASE62_SET.issuperset(body):
        raise MalformedToken(ErrorCode.TOKEN_MALFORMED, "The token has the wrong length or characters.")
    head, given = raw[:-CHECKSUM_LENGTH], raw[-CHECKSUM_LENGTH:]
    if not hmac.compare_digest(checksum(head), given):
        raise MalformedToken(ErrorCode.TOKEN_CHECKSUM_INVALID, "The token's checksum does not match.")
    return ParsedToken(kind=kind, prefix=kind.value + body[:LOOKUP_LENGTH], raw=raw)
