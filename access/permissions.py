"""The API's permission check: the act each route names, as the admin asks it."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from access.permission_map import Act, user_may

# HEAD and OPTIONS describe what GET would answer: they ask what GET asks.
READ_ALIASES = {"HEAD": "GET", "OPTIONS": "GET"}


def act_for(view: Any, method: str) -> Act | None:
    """Return the act `view` names for `method` (its `permission_actions`), or None."""
    acts = getattr(view, "permission_actions", None) or {}
    return acts.get(method) or acts.get(READ_ALIASES.get(method, ""))


class ActionPermissions(BasePermission):
    """Allow a request whose user holds every permission of the route's act.

    A view names its acts by method in `permission_actions` (acts and their
    permissions: access/permission_map.py, which the admin asks too). A
    method the view serves but names no act for is refused: a new route is
    closed until it says what it asks. A method it does not serve goes on to
    its 405.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        method = request.method or ""
        if method.lower() not in view.http_method_names or not hasattr(view, method.lower()):
            return True  # no such operation: the view answers 405 next
        act = act_for(view, method)
        return act is not None and user_may(request.user, act)

