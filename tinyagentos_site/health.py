"""`GET /healthz`: is the database reachable, is the cache answering; read-only and cheap.

Anyone (a load balancer's probe) learns up or down; the details, per
service, go to staff users and token holders. A probe writes nothing: the
database answers `SELECT 1`, the cache a lookup of a key that is never set
(the database cache answers it with one SELECT, Redis with EXISTS; a
down Redis behind django-redis' IGNORE_EXCEPTIONS answers None instead of
False). A token or a session is read as usual, so a token's last-used stamp
may be written, at most once a minute.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.utils.cache import add_never_cache_headers
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

logger = logging.getLogger(__name__)

# Never set by anyone: looking it up proves the cache answers, and writes nothing.
PROBE_KEY = "healthz:probe-never-set"


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("health check: database unavailable (%s)", exc.__class__.__name__)
        return False
    return True


def _cache_ok() -> bool:
    try:
        answered = cache.has_key(PROBE_KEY)
    except Exception as exc:  # any backend error means "degraded", never a 500
        logger.warning("health check: cache unavailable (%s)", exc.__class__.__name__)
        return False
    if answered is None:
        logger.warning("health check: cache unavailable")
        return False
    return True


def _may_see_details(request: Request) -> bool:
    try:
        user = request.user
    except exceptions.APIException:
        return False  # a failing credential: the anonymous answer
    return bool(user and user.is_authenticated
                and (getattr(user, "is_staff", False) or request.auth is not None))


class HealthView(APIView):
    """Up (200) or down (503); per service for staff and token holders."""

    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    schema = None  # not part of the API schema

    def perform_authentication(self, request: Request) -> None:
        """Authenticate lazily: a failing credential gets the anonymous answer, not 401."""

    def get(self, request: Request) -> Response:
        database = _database_ok()
        body: dict[str, str] = {"status": "ok" if database else "unavailable"}
        if _may_see_details(request):
            body["database"] = "ok" if database else "unavailable"
            # The database cache cannot answer without its database.
            body["cache"] = ("ok" if _cache_ok() else "unavailable") if database else "unknown"
        response = Response(body, status=200 if database else 503)
        add_never_cache_headers(response)
        return response


healthz = HealthView.as_view()
