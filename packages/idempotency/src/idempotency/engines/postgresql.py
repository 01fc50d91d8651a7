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
- A key it did not insert (a replay) comes back from the same statement;
  only a waiter whose holder committed during its wait reads it with one
  more (`select_stored_sql`): that row is not in the statement's snapshot.
- Round trips of a fresh key: BEGIN and the reservation in one, the view's
  own, the stored response and the COMMIT in one (`_send`); both merges
  only when the request's transaction is the connection's outermost one.
  Parameters are bound client-side (Django's default), which is what lets
  statements share one call. The reservation and the stored response are
  prepared with SQL PREPARE once per connection and run as EXECUTE, except
  behind a transaction pooler and where psycopg prepares statements itself
  (`_prepares`).

The ORM cannot say "insert unless the key exists, and tell me" in one
round trip: the statements are hand-written.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import weakref
from datetime import datetime
from typing import Any

from django.db import DatabaseError, OperationalError, connection
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
# SQLSTATE of "prepared statement ... does not exist".
UNKNOWN_STATEMENT = "26000"


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


# libpq's PQTRANS_IDLE: no transaction open on the server (psycopg 3 and psycopg2 alike).
_TRANSACTION_IDLE = 0

# The statements this engine prepared (SQL PREPARE), per driver connection.
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _combines() -> bool:
    """Whether statements can share a call: Django's cursor binds parameters client-side.

    Server-side binding (OPTIONS "server_side_binding") sends one statement
    per call: then each goes alone, unprepared.
    """
    return not connection.features.uses_server_side_binding


def _outermost() -> bool:
    """Whether the current atomic block is the connection's outermost and statements combine.

    Then its BEGIN and COMMIT are the request's own, free to travel with a
    statement of ours.
    """
    return len(connection.atomic_blocks) == 1 and _combines()


def _opens_transaction() -> bool:
    """Whether the next statement opens the connection's outermost transaction.

    Django's atomic block has begun (the driver's autocommit is off) and
    nothing has been sent since, so the driver would send a BEGIN of its own
    first: a round trip of its own.
    """
    raw = connection.connection
    return (_outermost() and not raw.autocommit
            and raw.info.transaction_status == _TRANSACTION_IDLE)


def _prepares() -> bool:
    """Whether this engine's statements are prepared (SQL PREPARE, once per connection).

    A prepared statement is a server connection's: not behind a transaction
    pooler (DISABLE_SERVER_SIDE_CURSORS, which Django asks for there and the
    site sets for DB_POOLER=pgbouncer). Not where psycopg prepares statements
    itself (OPTIONS "prepare_threshold" set): psycopg then answers every
    ROLLBACK with a DEALLOCATE ALL, which would drop ours too.
    """
    return (_combines() and getattr(connection.connection, "prepare_threshold", None) is None
            and not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"))


@functools.cache
def _statement_name(sql: str) -> str:
    return "idempotency_" + hashlib.sha256(sql.encode()).hexdigest()[:16]


@functools.cache
def _numbered(sql: str) -> str:
    """`sql` with PostgreSQL's $1, $2, ... for its %s placeholders (it has no other %)."""
    count = itertools.count(1)
    return re.sub("%s", lambda _: f"${next(count)}", sql)


def _send(cursor: Any, sql: str, params: list[Any], *, begin: bool = False,
          commit: bool = False, rows: bool = False) -> None:
    """Run `sql` with `params` in one call, with BEGIN before it or COMMIT after it.

    `begin` (only when `_opens_transaction()`): the statement opens the
    transaction in the same round trip, and the driver is switched to
    autocommit so that it sends no BEGIN of its own (the server is inside
    BEGIN all the same); Django still holds autocommit off, so on the way
    out it commits or rolls back and restores the driver's autocommit.
    `commit`: the COMMIT the atomic block's exit would send next goes now.
    `rows`: `sql` returns rows; the cursor is left on them.
    Where `_prepares()`, `sql` runs as `EXECUTE` of a statement prepared on
    the connection's first use of it (the PREPARE in the same call): parsed
    and planned once, its parameters still bound client-side. A prepared
    statement outlives a rolled-back or failed transaction, so it counts as
    prepared from the call that sent PREPARE on; one the server does not
    know (SQLSTATE 26000: dropped behind our back) fails its request and is
    prepared again by the next.
    """
    statements = ["BEGIN"] if begin else []
    name = ""
    if _prepares():
        name = _statement_name(sql)
        done = _prepared.setdefault(connection.connection, set())
        if name not in done:
            statements.append(f"PREPARE {name} AS {_numbered(sql)}")
            done.add(name)
        statements.append(f"EXECUTE {name}({', '.join(['%s'] * len(params))})")
    else:
        statements.append(sql)
    if commit:
        statements.append("COMMIT")
    if begin:
        connection.connection.autocommit = True
    try:
        cursor.execute("; ".join(statements), params)
    except DatabaseError as exc:
        if name and getattr(exc.__cause__, "sqlstate", None) == UNKNOWN_STATEMENT:
            _prepared.get(connection.connection, set()).discard(name)
        raise
    # psycopg 3 leaves the cursor on the first statement's result (psycopg2 on the last).
    while rows and cursor.description is None and cursor.nextset():
        pass


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

        Params: lock_timeout, the slot lock base, the 7 inserted values, then
        key and principal. The insert runs (and may wait on the unique index)
        only if the statement took one of the key's slots, a transaction-level
        advisory lock, tried in order; it returns whether it inserted, whether
        it took a slot and, when it did not insert, the key's row as committed
        before the statement began (a replay in one round trip). A fresh key
        never reads the row: the read sits behind a one-time filter on
        "inserted" (OFFSET 0 keeps the subquery whole, so PostgreSQL gates
        its index scan rather than filtering the join).
        """
        table, col = table_names()
        columns = ", ".join(col[name] for name in INSERTED_COLUMNS)
        stored = ", ".join(col[name] for name in STORED_COLUMNS)
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
            "SELECT EXISTS (SELECT 1 FROM inserted), EXISTS (SELECT 1 FROM slot), "
            f"{stored} FROM (SELECT 1) AS one LEFT JOIN (SELECT {stored} FROM {table} "
            "WHERE NOT EXISTS (SELECT 1 FROM inserted) "
            f"AND {col['key']} = %s AND {col['principal']} = %s OFFSET 0) AS r ON true"
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
            with connection.cursor() as cursor:
                _send(cursor, self.insert_admitted_sql(slots.slot_count()),
                      [*params, key, principal], begin=_opens_transaction(), rows=True)
                inserted, admitted, *row = cursor.fetchone()
        except OperationalError as exc:
            _raise_in_use_on_lock_timeout(exc, wait_seconds)
            raise
        if inserted:
            return None
        # A row committed while the statement waited is not in its snapshot: read it.
        stored = _stored_from_row(*row) if row[0] is not None else self.read(
            principal=principal, key=key)
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
        lets two statements share one call (`_send`); a failed COMMIT raises
        here, before any response leaves.
        """
        params = self.complete_params(principal=principal, key=key, response=response)
        commits_here = (_outermost() and connection.commit_on_exit
                        and not connection.needs_rollback)
        with connection.cursor() as cursor:
            _send(cursor, self.complete_sql, params, commit=commits_here)

    def read(self, *, principal: str, key: str) -> StoredResponse | None:
        """Return the stored response of (principal, key), hand-written.

        What the reservation statement cannot return: the row of a holder that
        committed while the statement waited, and a key the usual path
        (`reserve`) found taken.
        """
        with connection.cursor() as cursor:
            cursor.execute(self.select_stored_sql, [key, principal])
            row = cursor.fetchone()
        if row is None:
            return None
        return _stored_from_row(*row)
