"""The route template that served a request: its log lines and its metrics' label say the same."""

from __future__ import annotations

from typing import Any


def route_template(request: Any) -> str | None:
    """Return the URL pattern that served `request`, never its path; None when none did.

    A path() route reads `/admin/<path:object_id>/`; DRF's router writes
    regular expressions, read without their anchors:
    `/api/agents/(?P<slug>[a-z0-9-]+)/`.
    """
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return None
    return "/" + match.route.replace("^", "").replace("$", "")
