"""The engine interface: how one database reserves a key, waits for its holder and counts its slots.

One subclass per engine (postgresql.py, mysql.py, sqlite.py), chosen once
from the connection's vendor (engines/__init__.py); the protocol and the
services call these methods and never ask which engine runs. The mechanism
is the same everywhere: the reservation row is the first statement of the
request's transaction, its uncommitted row is the in-flight sentinel, and
the unique index on (key, principal) is where a duplicate waits. What an
engine owes:

- `admission(principal=, key=)`: entered before the transaction opens;
  yields whether one of the key's slots is free, held until it exits. An
  engine that counts slots inside its reservation yields True (this class).
- `transaction(wait_seconds=)`: the request's transaction, which the view
  and its stored response share. An engine that waits for the key's holder
  at BEGIN (SQLite) bounds that wait by `wait_seconds` and raises
  IdempotencyKeyInUse past it.
- `reserve(...)`: reserve the key inside that transaction (shared here: the
  engine's `insert` in a loop).
- `reserve_admitted(...)`: `reserve`, waiting for a holder only with one of
  the key's slots (this class: `reserve`, for an engine whose `admission`
  did that).
- `insert(...)`: the engine's reservation statement, its wait bound, and
  how it tells "taken", "timed out" (IdempotencyKeyInUse) and "chosen as a
  deadlock victim" (RetryReservation) apart.
- `read(...)`, `complete(...)`: a key's stored response; store one.
- `check()`: the engine's system checks.

Statements are built once per engine (the engine is one object per vendor)
from the model's table and column names.
"""

from __future__ import annotations

import contextlib
import functools
import time
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, ClassVar

from django.core.checks import CheckMessage
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from idempotency.errors import IdempotencyKeyInUse
from idempotency.models import IdempotencyRecord
from idempotency.stored import StoredResponse

INSERTED_COLUMNS = ("principal", "key", "method", "path", "fingerprint", "created_at",
                    "expires_at")
STORED_COLUMNS = ("fingerprint", "response_status", "response_body", "response_headers",
                  "expires_at")
# A reservation attempt only repeats when a row vanished or expired under it...
RESERVE_ATTEMPTS = 3
# ...or when the engine chose this transaction as a deadlock's victim (mysql.py).
DEADLOCK_ATTEMPTS = 5


class RetryReservation(Exception):
    """The engine rolled this transaction back whole (a deadlock's victim): insert again."""


def table_names() -> tuple[str, dict[str, str]]:
    """Return the quoted table name and the quoted column of each field of the model."""
    meta = IdempotencyRecord._meta
    qn = connection.ops.quote_name
    return qn(meta.db_table), {f.name: qn(f.column) for f in meta.concrete_fields}


def model_field(name: str) -> Field:
    return IdempotencyRecord._meta.get_field(name)


class Engine:
    """The reservation on one database engine; see the module docstring for what each method owes."""

    vendor: ClassVar[str]

    # --- Admission and the request's transaction -----------------------------

    def admission(self, *, principal: str, key: str) -> AbstractContextManager[bool]:
        """Hold one of the key's slots from before the transaction; yield whether one was free."""
        return contextlib.nullcontext(True)

    def transaction(self, *, wait_seconds: float) -> AbstractContextManager[Any]:
        """Open the transaction an idempotent request runs in, view and stored response alike."""
        return transaction.atomic()

    # --- The reservation -----------------------------------------------------

    def reserve(self, *, principal: str, key: str, fingerprint: str, method: str, path: str,
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
                inserted, stored = self.insert(
                    principal=principal, key=key, fingerprint=fingerprint, method=method,
                    path=path, now=now, expires_at=expires_at,
                    wait_seconds=max(0.0, deadline - time.monotonic()),
                )
            except RetryReservation:
                deadlocks += 1
                if deadlocks >= DEADLOCK_ATTEMPTS:
                    raise IdempotencyKeyInUse(retry_after=1) from None
                continue
            attempts += 1
            if inserted:
                return None
            if stored is None:
                stored = self.read(principal=principal, key=key)
            if stored is None:
                continue  # purged between the insert and the read
            if stored.expires_at <= now:
                IdempotencyRecord.objects.filter(
                    key=key, principal=principal, expires_at__lte=now).delete()
                continue
            return stored
        raise IdempotencyKeyInUse(retry_after=1)

    def reserve_admitted(self, *, principal: str, key: str, fingerprint: str, method: str,
                         path: str, wait_seconds: float,
                         expires_at: datetime) -> StoredResponse | None:
        """Reserve `key` like `reserve`, waiting for its holder only with a free slot of the key.

        Here: `reserve`, for an engine whose `admission` took the slot before
        the transaction.
        """
        if not connection.in_atomic_block:
            raise RuntimeError("reserve_admitted() must run inside the request's transaction")
        return self.reserve(principal=principal, key=key, fingerprint=fingerprint, method=method,
                            path=path, wait_seconds=wait_seconds, expires_at=expires_at)

    def insert(self, *, principal: str, key: str, fingerprint: str, method: str, path: str,
               now: datetime, expires_at: datetime,
               wait_seconds: float) -> tuple[bool, StoredResponse | None]:
        """Insert the reservation row unless (key, principal) exists, waiting at most `wait_seconds`.

        Return whether it inserted and, where the statement returns it, the
        row that was already committed (else None: the caller reads it).
        """
        raise NotImplementedError

    # --- A key's row ---------------------------------------------------------

    def read(self, *, principal: str, key: str) -> StoredResponse | None:
        """Return the stored response of (principal, key), expired or not; None without a row."""
        record = (IdempotencyRecord.objects.filter(key=key, principal=principal)
                  .only(*STORED_COLUMNS).first())
        if record is None:
            return None
        return StoredResponse(
            fingerprint=record.fingerprint, status=record.response_status,
            body=bytes(record.response_body or b""), headers=record.response_headers or {},
            expires_at=record.expires_at,
        )

    @functools.cached_property
    def complete_sql(self) -> str:
        """The update that stores a response; params: status, body, headers, key, principal."""
        table, col = table_names()
        return (
            f"UPDATE {table} SET {col['response_status']} = %s, {col['response_body']} = %s, "
            f"{col['response_headers']} = %s WHERE {col['key']} = %s AND {col['principal']} = %s"
        )

    def complete(self, *, principal: str, key: str, response: StoredResponse) -> None:
        """Store `response` on the reservation; it commits with the view's effects.

        Hand-written: the ORM's UPDATE costs several times the CPU of the
        statement it sends, on every idempotent request.
        """
        with connection.cursor() as cursor:
            cursor.execute(self.complete_sql, self.complete_params(
                principal=principal, key=key, response=response))

    def complete_params(self, *, principal: str, key: str,
                        response: StoredResponse) -> list[Any]:
        """The parameters of `complete_sql` for `response`."""
        return [
            response.status,
            model_field("response_body").get_db_prep_value(response.body, connection),
            model_field("response_headers").get_db_prep_value(response.headers, connection),
            key, principal,
        ]

    # --- Checks --------------------------------------------------------------

    def check(self) -> list[CheckMessage]:
        """Return this engine's system check messages about the database's settings."""
        return []

