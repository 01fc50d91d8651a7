"""PostgreSQL: the reservation, its wait bound and the key's slot in one statement.

- Waiting: `INSERT ... ON CONFLICT DO NOTHING` waits on the unique index
  for the holder's transaction; `set_config('lock_timeout', ..., true)` in
  the same statement bounds it. That is `SET LOCAL`: it ends with the
  transaction and leaves nothing on the connection, so PgBouncer in
  transaction pooling mode is safe. A timeout is SQLSTATE 55P03: 409.
- Slots: transaction-level advisory locks on `slot_lock_base(...) + n`,
  taken by the reservation insert itself (`reserve_admitted`), so a fresh
  key pays no extra statement. They vanish with the transaction, and with
  the connection when a worker dies; every host on the database sees them.
- A key it did not insert (a replay, or a waiter whose holder committed) is
  read with one more statement (`select_stored_sql`).
- The stored response and the COMMIT go in one round trip
  (`complete`) when the request's transaction is the connection's
  outermost one: the commit its exit would send anyway.

The ORM cannot say "insert unless the key exists, and tell me" in one
round trip: the statements are hand-written.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from typing import Any

from django.db import OperationalError, connection
from django.utils import timezone

from idempotency.engines import slots
from idempotency.engines.base import (
    INSERTED_COLUMNS,
    STORED_COLUMNS,
    Engine,
    model_field,
    table_names,
)
from idempotency.errors import IdempotencyKeyInUse, NoWaiterSlot
from idempotency.stored import StoredResponse

# SQLSTATE of "canceling statement due to lock timeout".
LOCK_NOT_AVAILABLE = "55P03"


def slot_lock_base(principal: str, key: str) -> int:
    """Return the advisory lock id of slot 0 of (principal, key); slot n is base + n."""
    base = int.from_bytes(slots.digest(principal, key)[:8], "big", signed=True)
    return base & ~(slots.MAX_SLOTS - 1)


def _lock_timeout(wait_seconds: float) -> str:
    return f"{max(1, int(wait_seconds * 1000))}ms"


def _stored_from_row(fingerprint: str, status: int, body: bytes | None, headers: Any,
                     expires_at: datetime) -> StoredResponse:
    """Return the StoredResponse of a raw row of `STORED_COLUMNS`."""
    headers = model_field("response_headers").from_db_value(headers, None, connection)
    return StoredResponse(fingerprint=fingerprint, status=status, body=bytes(body or b""),
                          headers=headers or {}, expires_at=expires_at)


def _reservation_cursor() -> Any:
    """A cursor whose statements PostgreSQL parses and plans once per connection.

    Server-side binding, each statement prepared on its first run on a
    connection (psycopg's `prepare=True`) and kept by it, or by PgBouncer
    1.21+ with max_prepared_statements in transaction mode. Where the
    database's OPTIONS say `"prepare_threshold": None` (the site's
    DB_POOLER=pgbouncer, for a pooler that may not keep them), or with
    psycopg2: Django's own cursor, client-side binding, nothing prepared.
    """
    options = connection.settings_dict.get("OPTIONS") or {}
    if ("prepare_threshold" in options and options["prepare_threshold"] is None) \
            or _preparing_cursor_class() is None:
        return connection.cursor()
    connection.ensure_connection()
    return connection._prepare_cursor(_preparing_cursor_class()(connection.connection))


@functools.cache
def _preparing_cursor_class() -> type | None:
    """Django's server-binding cursor, made to prepare what it runs; None without psycopg 3.

    Imported on first use: the package loads on SQLite and MariaDB hosts
    that have no PostgreSQL driver.
    """
    from django.db.backends.postgresql import psycopg_any

    if not psycopg_any.is_psycopg3:
        return None
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                    binary: bool | None = None) -> Any:
            # Django connects with prepare_threshold=None, which psycopg reads
            # as "never prepare", even when asked: lift it for this statement.
            raw = self.connection
            saved, raw.prepare_threshold = raw.prepare_threshold, 0
            try:
                result = super().execute(query, params,
                                         prepare=True if prepare is None else prepare,
                                         binary=binary)
            finally:
                raw.prepare_threshold = saved
            if self._query is None:
                # psycopg keeps no query text for a prepared run; Django's
                # statement log (DEBUG, CaptureQueriesContext) reads it here.
                self._query = _LoggedQuery(query.encode())
            return result

    return PreparingCursor


@dataclasses.dataclass(frozen=True)
class _LoggedQuery:
    """What Django's statement log reads of a psycopg cursor's last query (`.query`)."""

    query: bytes
    params: None = None


def _raise_in_use_on_lock_timeout(exc: OperationalError, wait_seconds: float) -> None:
    if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
        raise IdempotencyKeyInUse(retry_after=wait_seconds) from None


class PostgreSQLEngine(Engine):
    vendor = "postgresql"

    @functools.cached_property
    def insert_sql(self) -> str:
        """The reservation insert that returns the row committed before it began.

        Params: lock_timeout, the 7 inserted values, then key and principal.
        The set_config bounds this statement's wait on the unique index; the
        outer SELECT returns the row committed before the statement began.
        """
        table, col = table_names()
        columns = ", ".join(col[name] for name in INSERTED_COLUMNS)
        conflict = f"ON CONFLICT ({col['key']}, {col['principal']}) DO NOTHING"
        stored = ", ".join(f"r.{col[name]}" for name in STORED_COLUMNS)
        return (
            "WITH bound AS (SELECT set_config('lock_timeout', %s, true)), "
            f"inserted AS (INSERT INTO {table} ({columns}) "
            "SELECT %s, %s, %s, %s, %s, %s::timestamptz, %s::timestamptz FROM bound "
            f"{conflict} RETURNING 1) "
            f"SELECT EXISTS (SELECT 1 FROM inserted), {stored} "
            f"FROM (SELECT 1) AS one LEFT JOIN {table} AS r "
            f"ON r.{col['key']} = %s AND r.{col['principal']} = %s"
        )

    @functools.cache  # per slot count; one engine object per vendor, so nothing piles up
    def insert_admitted_sql(self, slot_count: int) -> str:
        """The reservation insert admitted by one of the key's `slot_count` slots.

        Params: lock_timeout, the slot lock base, then the 7 inserted values.
        The insert runs (and may wait on the unique index) only if the
        statement took one of the key's slots, a transaction-level advisory
        lock, tried in order; it returns whether it inserted and whether it
        took a slot. It does not read the row it did not insert (a replay
        reads it with `select_stored_sql`): that join cost every fresh key a
        third of the statement's server CPU.
        """
        table, col = table_names()
        columns = ", ".join(col[name] for name in INSERTED_COLUMNS)
        conflict = f"ON CONFLICT ({col['key']}, {col['principal']}) DO NOTHING"
        # CASE tries the slots in order and stops at the first one taken; its
        # conditions are volatile calls, never evaluated ahead. `base` comes once.
        tries = " ".join(f"WHEN pg_try_advisory_xact_lock(base.id + {n}) THEN {n}"
                         for n in range(slot_count))
        return (
            "WITH base AS (SELECT set_config('lock_timeout', %s, true), %s::bigint AS id), "
            f"slot AS (SELECT n FROM (SELECT CASE {tries} END AS n FROM base) AS tried "
            "WHERE n IS NOT NULL), "
            f"inserted AS (INSERT INTO {table} ({columns}) "
            "SELECT %s, %s, %s, %s, %s, %s::timestamptz, %s::timestamptz FROM slot "
            f"{conflict} RETURNING 1) "
            "SELECT EXISTS (SELECT 1 FROM inserted), EXISTS (SELECT 1 FROM slot)"
        )

    @functools.cached_property
    def select_stored_sql(self) -> str:
        """The read of a key's `STORED_COLUMNS`; params: key, principal."""
        table, col = table_names()
        stored = ", ".join(col[name] for name in STORED_COLUMNS)
        return (f"SELECT {stored} FROM {table} "
                f"WHERE {col['key']} = %s AND {col['principal']} = %s")

    def insert(self, *, principal: str, key: str, fingerprint: str, method: str, path: str,
               now: datetime, expires_at: datetime,
               wait_seconds: float) -> tuple[bool, StoredResponse | None]:
        """Insert the reservation unless (key, principal) exists; return the committed row too.

        One round trip for a replay too. An uncommitted row of another
        transaction blocks the insert on the unique index until that
        transaction ends, at most `wait_seconds`. A row committed during the
        wait is not in the statement's snapshot: the caller reads it
        afterwards.
        """
        adapt = connection.ops.adapt_datetimefield_value
        params = [_lock_timeout(wait_seconds), principal, key, method, path, fingerprint,
                  adapt(now), adapt(expires_at), key, principal]
        try:
            with connection.cursor() as cursor:
                cursor.execute(self.insert_sql, params)
                inserted, fp, status, body, headers, row_expires_at = cursor.fetchone()
        except OperationalError as exc:
            _raise_in_use_on_lock_timeout(exc, wait_seconds)
            raise
        if inserted or fp is None:
            return inserted, None
        return False, _stored_from_row(fp, status, body, headers, row_expires_at)

    def reserve_admitted(self, *, principal: str, key: str, fingerprint: str, method: str,
                         path: str, wait_seconds: float,
                         expires_at: datetime) -> StoredResponse | None:
        """Reserve `key`, taking one of its slots in the same statement.

        Without a free slot the statement neither inserts nor waits: return
        the key's completed response if there is one, else raise
        IdempotencyKeyInUse at once. A key it did not insert costs one more
        statement, the read of the row.
        """
        if not connection.in_atomic_block:
            raise RuntimeError("reserve_admitted() must run inside the request's transaction")
        now = timezone.now()
        adapt = connection.ops.adapt_datetimefield_value
        params = [_lock_timeout(wait_seconds), slot_lock_base(principal, key),
                  principal, key, method, path, fingerprint, adapt(now), adapt(expires_at)]
        try:
            with _reservation_cursor() as cursor:
                cursor.execute(self.insert_admitted_sql(slots.slot_count()), params)
                inserted, admitted = cursor.fetchone()
        except OperationalError as exc:
            _raise_in_use_on_lock_timeout(exc, wait_seconds)
            raise
        if inserted:
            return None
        stored = self.read(principal=principal, key=key)
        if stored is not None and stored.expires_at > now:
            return stored
        if not admitted:
            raise NoWaiterSlot()
        # The row vanished (purged) or had expired: the usual path, still holding
        # its slot until the transaction ends.
        return self.reserve(principal=principal, key=key, fingerprint=fingerprint,
                            method=method, path=path, wait_seconds=wait_seconds,
                            expires_at=expires_at)

    def complete(self, *, principal: str, key: str, response: StoredResponse) -> None:
        """Store `response` and commit the request's transaction in the same round trip.

        Only when that transaction is the connection's outermost one, opened
        from autocommit (the request's own, as `engine.transaction` opens
        it): then the COMMIT is the one its exit would send next, and that
        exit finds the connection idle and sends nothing. Inside an outer
        transaction (a test's, ATOMIC_REQUESTS) it stores only. Django's
        cursor binds parameters client-side (its default), which is what
        lets two statements share one call; a failed COMMIT raises here,
        before any response leaves.
        """
        params = self.complete_params(principal=principal, key=key, response=response)
        commits_here = (len(connection.atomic_blocks) == 1 and connection.commit_on_exit
                        and not connection.needs_rollback
                        and not connection.features.uses_server_side_binding)
        with connection.cursor() as cursor:
            cursor.execute(self.complete_and_commit_sql if commits_here else self.complete_sql,
                           params)

    @functools.cached_property
    def complete_and_commit_sql(self) -> str:
        return f"{self.complete_sql}; COMMIT"

    def read(self, *, principal: str, key: str) -> StoredResponse | None:
        """Return the stored response of (principal, key); hand-written, as every replay reads it."""
        with _reservation_cursor() as cursor:
            cursor.execute(self.select_stored_sql, [key, principal])
            row = cursor.fetchone()
        if row is None:
            return None
        return _stored_from_row(*row)
