"""The hand-written statements of the request path, built once per database vendor.

The ORM cannot say "insert unless the key exists, and tell me" in one round
trip, and its UPDATE costs several times the CPU of the statement it sends;
both run on every idempotent request.
"""

from __future__ import annotations

import functools

from django.db import connection

from idempotency.models import IdempotencyRecord

INSERTED_COLUMNS = ("principal", "key", "method", "path", "fingerprint", "created_at",
                    "expires_at")
STORED_COLUMNS = ("fingerprint", "response_status", "response_body", "response_headers",
                  "expires_at")


def _names() -> tuple[str, dict[str, str]]:
    meta = IdempotencyRecord._meta
    qn = connection.ops.quote_name
    return qn(meta.db_table), {f.name: qn(f.column) for f in meta.concrete_fields}


@functools.cache
def insert(vendor: str) -> str:
    """Return the reservation insert; params: see `services._insert`."""
    table, col = _names()
    columns = ", ".join(col[name] for name in INSERTED_COLUMNS)
    values = "VALUES (%s, %s, %s, %s, %s, %s, %s)"
    if vendor == "mysql":
        # Params: the wait bound in whole seconds, then the 7 inserted values.
        # No "ignore the conflict" form: INSERT IGNORE would also turn a
        # too-long value into a warning, and ON DUPLICATE KEY UPDATE counts a
        # found row as affected. A duplicate is error 1062 (the statement is
        # undone, the transaction goes on). SET STATEMENT bounds this
        # statement's lock wait only; the session's own value is untouched.
        return ("SET STATEMENT innodb_lock_wait_timeout = %s FOR "
                f"INSERT INTO {table} ({columns}) {values}")
    conflict = f"ON CONFLICT ({col['key']}, {col['principal']}) DO NOTHING"
    if vendor != "postgresql":
        return f"INSERT INTO {table} ({columns}) {values} {conflict}"
    # Params: lock_timeout, the 7 inserted values, then key and principal.
    # The set_config bounds this statement's wait on the unique index; the
    # outer SELECT returns the row committed before the statement began.
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


@functools.cache
def complete(vendor: str) -> str:
    """Return the update that stores a response; params: status, body, headers, key, principal."""
    table, col = _names()
    return (
        f"UPDATE {table} SET {col['response_status']} = %s, {col['response_body']} = %s, "
        f"{col['response_headers']} = %s WHERE {col['key']} = %s AND {col['principal']} = %s"
    )


@functools.cache
def insert_admitted(vendor: str, slots: int) -> str:
    """Return PostgreSQL's reservation insert admitted by one of the key's `slots` slots.

    Params: lock_timeout, the slot lock base, then the 7 inserted values.
    The insert runs (and may wait on the unique index) only if the statement
    took one of the key's slots, a transaction-level advisory lock
    (idempotency/waiters.py), tried in order; it returns whether it inserted
    and whether it took a slot. It does not read the row it did not insert
    (a replay reads it with `select_stored`): that join cost every fresh key
    a third of the statement's server CPU.
    """
    if vendor != "postgresql":
        raise ValueError("slots are advisory locks on PostgreSQL only")
    table, col = _names()
    columns = ", ".join(col[name] for name in INSERTED_COLUMNS)
    conflict = f"ON CONFLICT ({col['key']}, {col['principal']}) DO NOTHING"
    # CASE tries the slots in order and stops at the first one taken; its
    # conditions are volatile calls, never evaluated ahead. `base` comes once.
    tries = " ".join(f"WHEN pg_try_advisory_xact_lock(base.id + {n}) THEN {n}"
                     for n in range(slots))
    return (
        "WITH base AS (SELECT set_config('lock_timeout', %s, true), %s::bigint AS id), "
        f"slot AS (SELECT n FROM (SELECT CASE {tries} END AS n FROM base) AS tried "
        "WHERE n IS NOT NULL), "
        f"inserted AS (INSERT INTO {table} ({columns}) "
        "SELECT %s, %s, %s, %s, %s, %s::timestamptz, %s::timestamptz FROM slot "
        f"{conflict} RETURNING 1) "
        "SELECT EXISTS (SELECT 1 FROM inserted), EXISTS (SELECT 1 FROM slot)"
    )


@functools.cache
def select_stored(vendor: str) -> str:
    """Return the read of a key's `STORED_COLUMNS`; params: key, principal."""
    table, col = _names()
    stored = ", ".join(col[name] for name in STORED_COLUMNS)
    return f"SELECT {stored} FROM {table} WHERE {col['key']} = %s AND {col['principal']} = %s"
