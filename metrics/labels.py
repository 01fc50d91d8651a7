"""Bounded label values of a request: its route template and method."""

from __future__ import annotations

from typing import Any

from request_context.routes import route_template

UNMATCHED = "<unmatched>"  # no route: a 404, or a redirect before resolving
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route(request: Any) -> str:
    """The route template that served `request` (as its log lines name it), never its path."""
    return route_template(request) or UNMATCHED


def method(request: Any) -> str:
    value = request.method or ""
    return value if value in METHODS else "other"
