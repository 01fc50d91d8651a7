"""Bounded label values of a request: its route template and method."""

from __future__ import annotations

from typing import Any

UNMATCHED = "<unmatched>"  # no route: a 404, or a redirect before resolving
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route(request: Any) -> str:
    """The route template that served `request`, never its path.

    A path() route reads `admin/<path:object_id>/`; DRF's router writes
    regular expressions, read without their anchors:
    `api/agents/(?P<slug>[a-z0-9-]+)/`.
    """
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return UNMATCHED
    return match.route.replace("^", "").replace("$", "")


def method(request: Any) -> str:
    value = request.method or ""
    return value if value in METHODS else "other"
