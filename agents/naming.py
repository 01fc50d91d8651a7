"""Display names and the slugs derived from them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from django.core.exceptions import ValidationError

from agents.models import DISPLAY_NAME_MAX_LENGTH, NAME_MAX_LENGTH
from api.error_codes import ErrorCode

# How many suffixes (-2 .. -N) are tried when a slug is taken.
SLUG_MAX_SUFFIX = 99
_SUFFIX_ROOM = len(f"-{SLUG_MAX_SUFFIX}")
SLUG_FALLBACK = "agent"
# The rule of clean_display_name as a regular expression, for the API schema.
DISPLAY_NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\W_][^\x00-\x1f\x7f-\x9f]*$"
# Unicode categories a display name may not contain: controls and format characters.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf"})
# Paths under /api/agents/ that are not agents: never given as a slug.
RESERVED_SLUGS = frozenset({"deploy"})


def clean_display_name(value: str) -> str:
    """Return the trimmed display name, or raise ValidationError."""
    if not isinstance(value, str):
        raise ValidationError("The display name must be a string.", code=ErrorCode.INVALID)
    value = value.strip()
    if not value:
        raise ValidationError("The display name may not be blank.", code=ErrorCode.BLANK)
    if len(value) > DISPLAY_NAME_MAX_LENGTH:
        raise ValidationError(
            f"The display name may have at most {DISPLAY_NAME_MAX_LENGTH} characters.",
            code=ErrorCode.MAX_LENGTH,
        )
    # Cf (format) includes the bidi controls (U+202E shows "gpj.exe" as
    # "exe.jpg") and zero-width characters that make two names look alike.
    if any(unicodedata.category(ch) in REFUSED_CATEGORIES for ch in value):
        raise ValidationError(
            "The display name may not contain control or format characters "
            "(such as bidi controls or zero-width characters).",
            code=ErrorCode.INVALID_DISPLAY_NAME,
        )
    if not any(ch.isalnum() for ch in value):
        raise ValidationError(
            "The display name must contain a letter or a digit.", code=ErrorCode.INVALID_DISPLAY_NAME
        )
    return value


def slug_base(display_name: str) -> str:
    """Return a lowercase ASCII slug of `display_name`, safe in a container name."""
    ascii_name = (
        unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode("ascii")
    )
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    slug = slug[: NAME_MAX_LENGTH - _SUFFIX_ROOM].rstrip("-")
    return slug or SLUG_FALLBACK


def slug_candidates(base: str) -> Iterator[str]:
    """Yield `base` (unless reserved), then `base-2` ... `base-SLUG_MAX_SUFFIX`."""
    if base not in RESERVED_SLUGS:
        yield base
    for n in range(2, SLUG_MAX_SUFFIX + 1):
        yield f"{base}-{n}"
