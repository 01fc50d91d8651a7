"""The API's JSON parser: DRF's, strict about what Python's json lets through.

Refused with 400 `parse_error`: nesting deeper than MAX_DEPTH (Python's
decoder would raise RecursionError, a 500, near 1,000 levels), an object
with the same name twice (which value counts would be the parser's choice,
RFC 8259 section 4), and numbers out of range (`1e999` would become
infinity; NaN and Infinity literals DRF's parser already refuses).
Integers longer than Python's 4,300 digits are a ValueError of their own.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# The API's bodies are flat objects; a little room for clients' extras.
MAX_DEPTH = 32


def _no_duplicate_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        names = [name for name, _ in pairs]
        twice = next(name for name in names if names.count(name) > 1)
        raise ValueError(f"the name {twice!r} appears twice in one object")
    return document


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _too_deep(document: Any) -> bool:
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return False


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: dict[str, Any] | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            document = json.loads(text, object_pairs_hook=_no_duplicate_names,
                                  parse_float=_finite_float, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:  # also UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from None
        if _too_deep(document):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        return document
