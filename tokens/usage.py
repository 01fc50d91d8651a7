"""Record when a token was last used, cheaply.

Kept apart from services.py because DRF imports the authentication classes,
and so this module, while `rest_framework.views` is still being imported.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from tokens.models import BaseToken

logger = logging.getLogger(__name__)

# `last_used_at` is written at most this often per token.
LAST_USED_INTERVAL = timedelta(seconds=60)


def token_mark_used(*, token: BaseToken, now: datetime | None = None) -> None:
    """Record that `token` was used, at most once per LAST_USED_INTERVAL.

    The row read for authentication tells whether a write is due, so a
    recently used token costs no statement; otherwise one conditional UPDATE,
    which also settles a race between workers. It runs after the caller's
    transaction commits (at once in autocommit), so that a request never holds
    a token row lock: the lock order is agent row first, then its tokens.
    """
    now = now or timezone.now()
    threshold = now - LAST_USED_INTERVAL
    if token.last_used_at is not None and token.last_used_at >= threshold:
        return
    model = type(token)
    pk = token.pk

    def write() -> None:
        try:
            model.objects.filter(pk=pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=threshold)
            ).update(last_used_at=now)
        except DatabaseError as exc:
            # Losing one last-used timestamp must not fail the request.
            logger.warning("could not record token use (%s)", exc.__class__.__name__)

    token.last_used_at = now
    transaction.on_commit(write)
