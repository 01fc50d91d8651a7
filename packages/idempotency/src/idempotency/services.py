"""Every read and write of the reservation table goes through these functions.

They take and return plain data (`StoredResponse`), never HTTP objects.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, OperationalError, connection
from django.db.models import Field, QuerySet
from django.utils import timezone

from idempotency import sql, waiters
from idempotency.errors import IdempotencyKeyInUse
from idempotency.models import IdempotencyRecord
from tinyagentos_site.db import is_unique_violation

# SQLSTATE of PostgreSQL's "canceling statement due to lock timeout".
LOCK_NOT_AVAILABLE = "55P03"
# MariaDB/MySQL: "Lock wait timeout exceeded" (the statement is undone) and
# "Deadlock found" (InnoDB rolled the whole transaction back).
MYSQL_LOCK_WAIT_TIMEOUT = 1205
MYSQL_DEADLOCK = 1213
# A reservation attempt only repeats when a row vanished or expired under it...
RESERVE_ATTEMPTS = 3
# ...or, on InnoDB, when this request was a deadlock's victim (see _insert_mysql).
DEADLOCK_ATTEMPTS = 5


class _DeadlockVictim(Exception):
    """InnoDB chose this transaction as a deadlock's victim and rolled it back."""


@dataclass(frozen=True)
class StoredResponse:
    """A completed response as kept in the table (and in Redis) for replays.

    Plain data: its HTTP form is idempotency/protocol.py's.
    """

    fingerprint: str
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    expires_at: datetime | None = None


def reserve(*, principal: str, key: str, fingerprint: str, method: str, path: str,
            wait_seconds: float, expires_at: datetime) -> StoredResponse | None:
    """Reserve `key` for `principal` in the current transaction.

    Return None when this request now holds the key and must run the view;
    the stored response when the key was completed before (its fingerprint
    may differ from `fingerprint`: the caller decides). While another
    request holds the key, wait for it (at most `wait_seconds`, then raise
    IdempotencyKeyInUse): its commit makes this a replay, its rollback or
    death hands the key to this request. An expired row counts as absent.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("reserve() must run inside the request's transaction")
    deadline = time.monotonic() + wait_seconds
    attempts = deadlocks = 0
    while attempts < RESERVE_ATTEMPTS:
        now = timezone.now()
        try:
            inserted, stored = _insert(
                principal=principal, key=key, fingerprint=fingerprint, method=method, path=path,
                now=now, expires_at=expires_at,
                wait_seconds=max(0.0, deadline - time.monotonic()),
            )
        except _DeadlockVictim:
            deadlocks += 1
            if deadlocks >= DEADLOCK_ATTEMPTS:
                raise IdempotencyKeyInUse(retry_after=1) from None
            continue
        attempts += 1
        if inserted:
            return None
        if stored is None:
            stored = _read(principal=principal, key=key)
        if stored is None:
            continue  # purged between the insert and the read
        if stored.expires_at <= now:
            IdempotencyRecord.objects.filter(
                key=key, principal=principal, expires_at__lte=now).delete()
            continue
        return stored
    raise IdempotencyKeyInUse(retry_after=1)


def reserve_admitted(*, principal: str, key: str, fingerprint: str, method: str, path: str,
                     wait_seconds: float, expires_at: datetime) -> StoredResponse | None:
    """Reserve `key` like `reserve`, but wait for its holder only with a free slot of the key.

    PostgreSQL: the insert takes one of the key's slots (idempotency/waiters.py)
    in the same statement, so a fresh key pays nothing more. Without a free
    slot it does not insert and does not wait: return the key's completed
    response if there is one, else raise IdempotencyKeyInUse at once. A key
    it did not insert (a replay, or a request that waited for its holder)
    costs one more statement, the read of the row. MariaDB: a fresh key's
    insert does not wait, and only a request that finds the key held takes a
    slot (`_reserve_admitted_mysql`). SQLite: `reserve` (its slots are taken
    before the transaction opens, `waiters.file_slot`).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("reserve_admitted() must run inside the request's transaction")
    if connection.vendor == "mysql":
        return _reserve_admitted_mysql(
            principal=principal, key=key, fingerprint=fingerprint, method=method, path=path,
            wait_seconds=wait_seconds, expires_at=expires_at)
    if connection.vendor != "postgresql":
        return reserve(principal=principal, key=key, fingerprint=fingerprint, method=method,
                       path=path, wait_seconds=wait_seconds, expires_at=expires_at)
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    params = [f"{max(1, int(wait_seconds * 1000))}ms", waiters.slot_lock_base(principal, key),
              principal, key, method, path, fingerprint, adapt(now), adapt(expires_at)]
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.insert_admitted(connection.vendor, waiters.slot_count()), params)
            inserted, admitted = cursor.fetchone()
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise IdempotencyKeyInUse(retry_after=wait_seconds) from None
        raise
    if inserted:
        return None
    stored = _read(principal=principal, key=key)
    if stored is not None and stored.expires_at > now:
        return stored
    if not admitted:
        raise IdempotencyKeyInUse(retry_after=1)
    # The row vanished (purged) or had expired: the usual path, still holding
    # its slot until the transaction ends.
    return reserve(principal=principal, key=key, fingerprint=fingerprint, method=method,
                   path=path, wait_seconds=wait_seconds, expires_at=expires_at)


def _reserve_admitted_mysql(*, principal: str, key: str, fingerprint: str, method: str,
                            path: str, wait_seconds: float,
                            expires_at: datetime) -> StoredResponse | None:
    """InnoDB: insert without waiting; only a key held by another request takes a slot to wait.

    A fresh key costs the one insert, as on the other engines. A completed
    key (1062) is read and answered. A key whose row another transaction
    holds (1205 at once, the statement undone and the transaction going on)
    waits for it as `reserve` does, with one of the key's waiter slots
    (`waiters.named_slot`) for as long as it waits; without a free slot it
    raises IdempotencyKeyInUse at once.
    """
    now = timezone.now()
    try:
        inserted, _ = _insert(principal=principal, key=key, fingerprint=fingerprint,
                              method=method, path=path, now=now, expires_at=expires_at,
                              wait_seconds=0)
        if inserted:
            return None
        stored = _read(principal=principal, key=key)
        if stored is not None and stored.expires_at > now:
            return stored
    except (IdempotencyKeyInUse, _DeadlockVictim):
        pass  # held by another transaction: wait for it, with a slot
    # Held, or its row expired or purged meanwhile: `reserve` sorts them out.
    with waiters.named_slot(principal=principal, key=key) as admitted:
        if admitted:
            return reserve(principal=principal, key=key, fingerprint=fingerprint,
                           method=method, path=path, wait_seconds=wait_seconds,
                           expires_at=expires_at)
    # No read of the row: it was held a moment ago, and a refusal must stay
    # cheap (a storm's refusals share the workers left to everyone else).
    raise IdempotencyKeyInUse(retry_after=1)


def completed(*, principal: str, key: str) -> StoredResponse | None:
    """Return the unexpired completed response of (principal, key), read without locking."""
    stored = _read(principal=principal, key=key)
    if stored is None or stored.expires_at <= timezone.now():
        return None
    return stored


def _read(*, principal: str, key: str) -> StoredResponse | None:
    if connection.vendor == "postgresql":
        # Hand-written, like the other statements of the request path
        # (idempotency/sql.py): every replay from the database reads its row
        # with this since the reservation no longer returns it.
        with connection.cursor() as cursor:
            cursor.execute(sql.select_stored(connection.vendor), [key, principal])
            row = cursor.fetchone()
        if row is None:
            return None
        return _stored_from_row(*row)
    record = (IdempotencyRecord.objects.filter(key=key, principal=principal)
              .only(*sql.STORED_COLUMNS).first())
    if record is None:
        return None
    return StoredResponse(
        fingerprint=record.fingerprint, status=record.response_status,
        body=bytes(record.response_body or b""), headers=record.response_headers or {},
        expires_at=record.expires_at,
    )


def _stored_from_row(fingerprint: str, status: int, body: bytes | None, headers: Any,
                     expires_at: datetime) -> StoredResponse:
    """Return the StoredResponse of a raw row of `sql.STORED_COLUMNS` (PostgreSQL's statements)."""
    headers = _field("response_headers").from_db_value(headers, None, connection)
    return StoredResponse(fingerprint=fingerprint, status=status, body=bytes(body or b""),
                          headers=headers or {}, expires_at=expires_at)


def _insert(*, principal: str, key: str, fingerprint: str, method: str, path: str,
            now: datetime, expires_at: datetime,
            wait_seconds: float) -> tuple[bool, StoredResponse | None]:
    """Insert the reservation row unless (key, principal) exists.

    Return whether it inserted and, on PostgreSQL, the row that was already
    committed when the statement began (one round trip for a replay too);
    None when the caller must read it. An uncommitted row of another
    transaction blocks the insert on the unique index until that transaction
    ends; on PostgreSQL the same statement bounds that wait (`SET LOCAL
    lock_timeout`, through set_config). A row committed during the wait is
    not in the statement's snapshot: the caller reads it afterwards.
    """
    adapt = connection.ops.adapt_datetimefield_value
    params = [principal, key, method, path, fingerprint, adapt(now), adapt(expires_at)]
    if connection.vendor == "mysql":
        return _insert_mysql(params, wait_seconds=wait_seconds), None
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql.insert(connection.vendor), params)
            return cursor.rowcount == 1, None

    params = [f"{max(1, int(wait_seconds * 1000))}ms", *params, key, principal]
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.insert(connection.vendor), params)
            inserted, fp, status, body, headers, row_expires_at = cursor.fetchone()
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise IdempotencyKeyInUse(retry_after=wait_seconds) from None
        raise
    if inserted or fp is None:
        return inserted, None
    return False, _stored_from_row(fp, status, body, headers, row_expires_at)


def _insert_mysql(params: list, *, wait_seconds: float) -> bool:
    """Insert the reservation on InnoDB; return whether it inserted.

    A duplicate of a committed row is error 1062 at once. A duplicate of an
    uncommitted one waits for its owner (InnoDB takes a shared lock on the
    duplicate index record), at most `wait_seconds` rounded up to a whole
    second, 0 not at all (then 1205: IdempotencyKeyInUse): the owner's commit makes it
    1062, the owner's rollback or death lets this insert through. When the
    owner rolls back with two or more waiters, each holds that shared lock
    and wants the exclusive one to insert: InnoDB breaks the deadlock by
    rolling one transaction back whole (1213). The reservation is the first
    statement of the request's transaction (idempotency/protocol.py), so the
    victim loses nothing and tries again (raise _DeadlockVictim): it now
    waits on the winner's row like any other waiter. Inside a savepoint the
    outer transaction's work is gone too, so that error is raised as it is.
    """
    seconds = math.ceil(wait_seconds)  # 0: no wait at all
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.insert(connection.vendor), [seconds, *params])
    except IntegrityError as exc:
        if is_unique_violation(exc, constraint="uniq_idempotency_key",
                               table=IdempotencyRecord._meta.db_table, columns=["key", "principal"]):
            return False
        raise
    except OperationalError as exc:
        code = exc.args[0] if exc.args else None
        if code == MYSQL_LOCK_WAIT_TIMEOUT:
            raise IdempotencyKeyInUse(retry_after=seconds) from None
        if code == MYSQL_DEADLOCK and not connection.savepoint_ids:
            raise _DeadlockVictim() from None
        raise
    return True


def _field(name: str) -> Field:
    return IdempotencyRecord._meta.get_field(name)


def complete(*, principal: str, key: str, response: StoredResponse) -> None:
    """Store `response` on the reservation; it commits with the view's effects."""
    params = [
        response.status,
        _field("response_body").get_db_prep_value(response.body, connection),
        _field("response_headers").get_db_prep_value(response.headers, connection),
        key, principal,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql.complete(connection.vendor), params)


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
