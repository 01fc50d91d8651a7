"""The auth backend: Django's ModelBackend behind the failed-login lockout.

Every password check goes through `authenticate()`, the admin login and
HTTP Basic on the API alike, so the lockout sits here, in front of the
hasher (which also runs for unknown user names). A locked-out check never
reaches it: `authenticate()` gets PermissionDenied and answers None, and the
request carries the lockout (`lockout_of()`) for its adapter to answer 429.

A user's permissions (DRF's model permissions check them on every API call)
are read in one query, the user's and their groups' together, instead of
ModelBackend's two; per request, as Django does (no cache across requests,
so a change counts at the next request).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest

from tinyagentos_site import lockout
from tinyagentos_site.client_address import client_address

LOCKOUT_ATTRIBUTE = "taos_auth_lockout"


class LockedOutDenied(PermissionDenied):
    """Stops `authenticate()` at this backend: no other backend runs the hasher."""


def lockout_of(request: Any) -> lockout.LockedOut | None:
    """Return the lockout a password check of `request` ran into, if any."""
    return getattr(request, LOCKOUT_ATTRIBUTE, None)


class LockoutModelBackend(ModelBackend):
    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> Any:
        if request is None or password is None:
            # Not a client's attempt (a management command, a test helper).
            return super().authenticate(request, username, password, **kwargs)
        name = username if username is not None else str(kwargs.get(self._username_field(), ""))
        path = getattr(request, "path", "")
        method = "basic" if path.startswith("/api/") else "login"
        try:
            with lockout.password_attempt(method=method, address=client_address(request),
                                          username=name) as attempt:
                if "\x00" in name:
                    # No user has one (forms refuse NUL) and PostgreSQL cannot
                    # even compare it: a failure, at the cost of a real one.
                    self._unknown_user_cost(password)
                    return None
                user = super().authenticate(request, username, password, **kwargs)
                attempt.succeeded = user is not None
                return user
        except lockout.LockedOut as exc:
            setattr(request, LOCKOUT_ATTRIBUTE, exc)
            raise LockedOutDenied() from None

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        """Return ModelBackend's set ("app_label.codename"), read in one query."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = self._all_permissions(user_obj)
        return user_obj._perm_cache

    @staticmethod
    def _all_permissions(user_obj: Any) -> set[str]:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Permission

        permissions = Permission.objects.all()
        if not user_obj.is_superuser:  # as ModelBackend: a superuser has every one
            groups_field = get_user_model()._meta.get_field("groups")
            of_groups = Permission.objects.filter(
                **{f"group__{groups_field.related_query_name()}": user_obj})
            permissions = permissions.filter(
                Q(pk__in=user_obj.user_permissions.values("pk"))
                | Q(pk__in=of_groups.values("pk")))
        rows = permissions.values_list("content_type__app_label", "codename")
        return {f"{app_label}.{codename}" for app_label, codename in rows}

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD

    @staticmethod
    def _unknown_user_cost(password: str) -> None:
        """Run the hasher once, as ModelBackend does for an unknown user name."""
        from django.contrib.auth import get_user_model

        get_user_model()().set_password(password)
