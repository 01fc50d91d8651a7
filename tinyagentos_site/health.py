"""`GET /healthz`: is the database reachable, is the cache answering."""

from __future__ import annotations

import logging
import secrets

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


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
    probe = secrets.token_hex(8)
    try:
        key = f"healthz:{probe}"
        cache.set(key, probe, timeout=10)
        ok = cache.get(key) == probe
        cache.delete(key)
        return ok
    except Exception as exc:  # any backend error means "degraded", never a 500
        logger.warning("health check: cache unavailable (%s)", exc.__class__.__name__)
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = _database_ok()
    # The database cache cannot answer without its database.
    cache_state = ("ok" if _cache_ok() else "unavailable") if database else "unknown"
    body = {
        "status": "ok" if database else "unavailable",
        "database": "ok" if database else "unavailable",
        "cache": cache_state,
    }
    return JsonResponse(body, status=200 if database else 503)
