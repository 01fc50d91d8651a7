"""Every read and write of the reservation table goes through these functions.

They take and return plain data (`StoredResponse`), never HTTP objects. The
reservation and the statements of the request path are the engine's
(idempotency/engines/): these call `engines.current()` and never ask which
database runs.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from idempotency import engines
from idempotency.models import IdempotencyRecord
from idempotency.stored import StoredResponse

__all__ = ["IdempotencyRecord", "StoredResponse", "complete", "completed", "forget",
           "purge_expired", "reserve", "reserve_admitted"]


def reserve(*, principal: str, key: str, fingerprint: str, method: str, path: str,
            wait_seconds: float, expires_at: datetime) -> StoredResponse | None:
    """Reserve `key` for `principal` in the current transaction; see `engines.base.Engine.reserve`.

    None: this request now holds the key and must run the view; else the
    key's stored response (whose fingerprint the caller compares).
    """
    return engines.current().reserve(
        principal=principal, key=key, fingerprint=fingerprint, method=method, path=path,
        wait_seconds=wait_seconds, expires_at=expires_at)


def reserve_admitted(*, principal: str, key: str, fingerprint: str, method: str, path: str,
                     wait_seconds: float, expires_at: datetime) -> StoredResponse | None:
    """Reserve `key` like `reserve`, but wait for its holder only with a free slot of the key.

    Without a free slot: the key's completed response if there is one, else
    IdempotencyKeyInUse at once. Where the slot is counted is the engine's
    (PostgreSQL: in the reservation statement; MariaDB: a named lock taken
    only to wait; SQLite: a file taken before the transaction, so this is
    `reserve` there).
    """
    return engines.current().reserve_admitted(
        principal=principal, key=key, fingerprint=fingerprint, method=method, path=path,
        wait_seconds=wait_seconds, expires_at=expires_at)


def completed(*, principal: str, key: str) -> StoredResponse | None:
    """Return the unexpired completed response of (principal, key), read without locking."""
    stored = engines.current().read(principal=principal, key=key)
    if stored is None or stored.expires_at <= timezone.now():
        return None
    return stored


def complete(*, principal: str, key: str, response: StoredResponse) -> None:
    """Store `response` on the reservation; it commits with the view's effects."""
    engines.current().complete(principal=principal, key=key, response=response)


def forget(*, principal: str, key: str) -> None:
    """Drop the reservation: the response must not be stored (it reveals a secret)."""
    IdempotencyRecord.objects.filter(key=key, principal=principal).delete()


def purge_expired(*, batch_size: int = 1000, dry_run: bool = False,
                  queryset: QuerySet[IdempotencyRecord] | None = None,
                  now: datetime | None = None) -> int:
    """Delete expired records (of `queryset`, default all) in batches; return how many.

    Each batch is its own short transaction, so a purge of millions of rows
    never holds locks for long. `dry_run` only counts.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    now = now or timezone.now()
    expired = (queryset if queryset is not None else IdempotencyRecord.objects.all()).filter(
        expires_at__lte=now
    )
    if dry_run:
        return expired.count()
    total = 0
    # Walk the expires_at index forward from the last batch: the entries of
    # rows already deleted stay in the index until VACUUM, and a scan from its
    # start would step over all of them again (seconds, at a million rows).
    resume_from = None
    while True:
        batch = expired.order_by("expires_at")
        if resume_from is not None:
            batch = batch.filter(expires_at__gte=resume_from)
        rows = list(batch.values_list("pk", "expires_at")[:batch_size])
        if not rows:
            return total
        resume_from = rows[-1][1]
        ids = [pk for pk, _ in rows]
        deleted, _ = IdempotencyRecord.objects.filter(pk__in=ids, expires_at__lte=now).delete()
        total += deleted
        if len(rows) < batch_size:
            return total  # a short batch was the last: no final empty scan
