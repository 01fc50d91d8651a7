"""The password backend: Django's ModelBackend behind the failed-login lockout, with exact names.

Every password check goes through `authenticate()`, the admin login and
HTTP Basic on the API alike, so the lockout sits here, in front of the
hasher (which also runs for unknown user names). A name logs in only as the
account it spells exactly, on every engine (access/accounts.py: MariaDB's
collation would let `Admin` and `admin ` in as `admin`); its failures count
under the account, or under the client's device when it presents a valid
device cookie for that account (access/device_cookie.py). A locked-out check never
reaches it: the backend raises `access.lockout.LockedOut`, which
`authenticate()` does not catch (it stops only on PermissionDenied), so the
lockout reaches its caller as a value: the admin login answers it with 429
(access/middleware.py, `LoginLockoutMiddleware`), the API's Basic
authentication too (access/basic_auth.py). A caller that does not expect it
fails closed.

A user's permissions (DRF's model permissions check them on every API call)
are read in one statement, the user's and their groups' together, instead of
ModelBackend's two ORM queries; its SQL is built once per process from the
models' tables, because compiling the ORM queries cost ~20 times more CPU
than running them (0.7 ms against 0.03 ms here, a quarter of a request).
Read per request, as Django does: no cache across requests, so a change
counts at the next request.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db import connections, router
from django.http import HttpRequest

from access import accounts, device_cookie, lockout, signals
from access.client_address import client_address


class LockoutModelBackend(ModelBackend):
    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> Any:
        if username is None:
            username = kwargs.get(self._username_field())
        if username is None or password is None:
            return None  # as ModelBackend: not a password check
        name = str(username)
        account = accounts.resolve(name)
        if request is None:
            # Not a client's attempt (a management command, a test helper).
            return self._check_password(account.user, password)
        path = getattr(request, "path", "")
        method = "basic" if path.startswith("/api/") else "login"
        counted_as = signals.BASIC if method == "basic" else signals.SESSION
        device = (device_cookie.request_nonce(request, account.user)
                  if account.user is not None else None)
        # Raises lockout.LockedOut, out of authenticate(), before the hasher runs.
        try:
            with lockout.password_attempt(method=method, address=client_address(request),
                                          username=name, account=account.key,
                                          device=device) as attempt:
                user = self._check_password(account.user, password)
                attempt.succeeded = user is not None
        except lockout.LockedOut:
            signals.send_authentication(counted_as, signals.LOCKED_OUT)
            raise
        signals.send_authentication(
            counted_as, signals.SUCCESS if user is not None else signals.INVALID_CREDENTIALS)
        return user

    def _check_password(self, user: Any, password: str) -> Any:
        """Return `user` if `password` is theirs and they may log in; run the hasher once either way."""
        if user is None:
            self._unknown_user_cost(password)  # as ModelBackend: the same time either way
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        """Return ModelBackend's set ("app_label.codename"), read in one query."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = self._all_permissions(user_obj)
        return user_obj._perm_cache

    @staticmethod
    def _all_permissions(user_obj: Any) -> set[str]:
        from django.contrib.auth.models import Permission

        if user_obj.is_superuser:  # as ModelBackend: a superuser has every one
            rows = Permission.objects.values_list("content_type__app_label", "codename")
        else:
            alias = router.db_for_read(Permission)
            with connections[alias].cursor() as cursor:
                cursor.execute(_permissions_sql(alias), [user_obj.pk, user_obj.pk])
                rows = cursor.fetchall()
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


@cache
def _permissions_sql(alias: str) -> str:
    """Return the statement that reads a user's own and groups' permissions (user pk twice)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    quote = connections[alias].ops.quote_name
    own = get_user_model()._meta.get_field("user_permissions")
    groups = get_user_model()._meta.get_field("groups")
    of_group = Group._meta.get_field("permissions")

    def through(field: Any) -> str:
        return quote(field.remote_field.through._meta.db_table)

    return (
        f"SELECT ct.{quote(ContentType._meta.get_field('app_label').column)}, "
        f"p.{quote(Permission._meta.get_field('codename').column)} "
        f"FROM {quote(Permission._meta.db_table)} p "
        f"JOIN {quote(ContentType._meta.db_table)} ct "
        f"ON ct.{quote(ContentType._meta.pk.column)} = "
        f"p.{quote(Permission._meta.get_field('content_type').column)} "
        f"WHERE p.{quote(Permission._meta.pk.column)} IN ("
        f"SELECT {quote(own.m2m_reverse_name())} FROM {through(own)} "
        f"WHERE {quote(own.m2m_column_name())} = %s) "
        f"OR p.{quote(Permission._meta.pk.column)} IN ("
        f"SELECT gp.{quote(of_group.m2m_reverse_name())} FROM {through(of_group)} gp "
        f"JOIN {through(groups)} ug ON ug.{quote(groups.m2m_reverse_name())} = "
        f"gp.{quote(of_group.m2m_column_name())} "
        f"WHERE ug.{quote(groups.m2m_column_name())} = %s)"
    )
