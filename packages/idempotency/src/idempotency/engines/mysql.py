"""MariaDB / MySQL (InnoDB): a plain insert bounded per statement; named locks as waiter slots.

- The reservation: `SET STATEMENT innodb_lock_wait_timeout = N FOR INSERT ...`
  with N the seconds left of the wait, rounded up (InnoDB counts whole
  seconds); `SET STATEMENT` changes the value for that statement only. No
  "ignore the conflict" form: `INSERT IGNORE` would also turn a too-long
  value into a warning, and `ON DUPLICATE KEY UPDATE` counts a found row as
  affected. A duplicate of a committed row is error 1062 at once (the
  statement is undone, the transaction goes on); of an uncommitted one, a
  wait for its owner, then 1062 (it committed) or the insert (it rolled
  back or died); past N, 1205.
- Deadlocks: when the owner rolls back with two or more waiters, each holds
  a shared lock on the duplicate index record and wants the exclusive one:
  InnoDB rolls one transaction back whole (1213). The reservation is the
  first statement of the request's transaction, so the victim loses
  nothing and inserts again (RetryReservation); inside a savepoint the outer
  transaction's work is gone too, so that error is raised as it is.
- Slots: the holder is the request whose insert went through with a wait of
  0 (`reserve_admitted`); only a request that finds its key held takes a
  waiter slot, a named lock of its connection (`GET_LOCK(name, 0)`,
  `IDEMPOTENCY_WAITERS_PER_KEY` names per key, the first free one in one
  statement), for as long as it waits. Named locks are the server's, so
  every host on the database sees them; the server drops them with a dead
  worker's connection. They are session-level, released right after the
  wait, so they suit direct connections (no pooler sharing server
  connections between clients).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
import re
from collections.abc import Iterator
from datetime import datetime

from django.db import DatabaseError, IntegrityError, OperationalError, connection
from django.utils import timezone

from idempotency.engines import slots
from idempotency.engines.base import INSERTED_COLUMNS, Engine, RetryReservation, table_names
from idempotency.errors import IdempotencyKeyInUse, NoWaiterSlot
from idempotency.models import UNIQUE_KEY_CONSTRAINT
from idempotency.stored import StoredResponse

logger = logging.getLogger(__name__)

# "Duplicate entry '...' for key 'uniq_idempotency_key'" (MySQL 8 writes 'table.name').
DUP_ENTRY = 1062
# "Lock wait timeout exceeded" (the statement is undone) and "Deadlock found"
# (InnoDB rolled the whole transaction back).
LOCK_WAIT_TIMEOUT = 1205
DEADLOCK = 1213
_DUP_KEY_RE = re.compile(r"for key '(?:[^'.]*\.)?([^'.]+)'")


def is_duplicate_key(exc: IntegrityError) -> bool:
    """Return whether `exc` is a duplicate of (key, principal): 1062 on the table's unique index."""
    if not exc.args or exc.args[0] != DUP_ENTRY:
        return False
    found = _DUP_KEY_RE.search(str(exc.args[1]) if len(exc.args) > 1 else "")
    return found is not None and found.group(1) == UNIQUE_KEY_CONSTRAINT


def named_slot_names(principal: str, key: str) -> list[str]:
    """Return the lock names of the waiter slots of (principal, key) in this database.

    Named locks are server-wide: the database's name keeps two databases on
    one server (a test run beside the site) apart. 64 characters at most.
    """
    scope = f"{connection.settings_dict['NAME']}\n{principal}\n{key}"
    digest = hashlib.sha256(scope.encode()).hexdigest()[:40]
    return [f"taos-idem:{digest}:{n}" for n in range(slots.slot_count() - 1)]


@functools.cache
def _take_named_sql(count: int) -> str:
    # CASE stops at the first true branch: it takes the first free name only.
    branches = " ".join(f"WHEN GET_LOCK(%s, 0) = 1 THEN {n}" for n in range(count))
    return f"SELECT CASE {branches} ELSE -1 END"


@contextlib.contextmanager
def named_slot(*, principal: str, key: str) -> Iterator[bool]:
    """Hold one of the key's waiter slots while the block runs; yield whether one was free."""
    names = named_slot_names(principal, key)
    if not names:
        yield False
        return
    with connection.cursor() as cursor:
        cursor.execute(_take_named_sql(len(names)), names)
        (taken,) = cursor.fetchone()
    if taken < 0:
        yield False
        return
    try:
        yield True
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT RELEASE_LOCK(%s)", [names[taken]])
        except DatabaseError as exc:
            # A broken connection took its session's locks with it.
            logger.warning("idempotency: could not release a waiter slot (%s)",
                           exc.__class__.__name__)


class MySQLEngine(Engine):
    vendor = "mysql"

    @functools.cached_property
    def insert_sql(self) -> str:
        """The reservation insert; params: the wait bound in whole seconds, then the 7 values."""
        table, col = table_names()
        columns = ", ".join(col[name] for name in INSERTED_COLUMNS)
        return ("SET STATEMENT innodb_lock_wait_timeout = %s FOR "
                f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)")

    def insert(self, *, principal: str, key: str, fingerprint: str, method: str, path: str,
               now: datetime, expires_at: datetime,
               wait_seconds: float) -> tuple[bool, StoredResponse | None]:
        """Insert the reservation; return whether it inserted (the caller reads a found row).

        A duplicate of an uncommitted row waits for its owner at most
        `wait_seconds` rounded up to a whole second, 0 not at all (then 1205:
        IdempotencyKeyInUse). A deadlock's victim outside a savepoint raises
        RetryReservation.
        """
        adapt = connection.ops.adapt_datetimefield_value
        seconds = math.ceil(wait_seconds)  # 0: no wait at all
        params = [seconds, principal, key, method, path, fingerprint, adapt(now),
                  adapt(expires_at)]
        try:
            with connection.cursor() as cursor:
                cursor.execute(self.insert_sql, params)
        except IntegrityError as exc:
            if is_duplicate_key(exc):
                return False, None
            raise
        except OperationalError as exc:
            code = exc.args[0] if exc.args else None
            if code == LOCK_WAIT_TIMEOUT:
                raise IdempotencyKeyInUse(retry_after=seconds) from None
            if code == DEADLOCK and not connection.savepoint_ids:
                raise RetryReservation() from None
            raise
        return True, None

    def reserve_admitted(self, *, principal: str, key: str, fingerprint: str, method: str,
                         path: str, wait_seconds: float,
                         expires_at: datetime) -> StoredResponse | None:
        """Insert without waiting; only a key held by another request takes a slot to wait.

        A fresh key costs the one insert. A completed key (1062) is read and
        answered. A key whose row another transaction holds (1205 at once)
        waits for it as `reserve` does, with one of the key's waiter slots
        (`named_slot`) for as long as it waits; without a free slot it raises
        IdempotencyKeyInUse at once.
        """
        if not connection.in_atomic_block:
            raise RuntimeError("reserve_admitted() must run inside the request's transaction")
        now = timezone.now()
        try:
            inserted, _ = self.insert(principal=principal, key=key, fingerprint=fingerprint,
                                      method=method, path=path, now=now,
                                      expires_at=expires_at, wait_seconds=0)
            if inserted:
                return None
            stored = self.read(principal=principal, key=key)
            if stored is not None and stored.expires_at > now:
                return stored
        except (IdempotencyKeyInUse, RetryReservation):
            pass  # held by another transaction: wait for it, with a slot
        # Held, or its row expired or purged meanwhile: `reserve` sorts them out.
        with named_slot(principal=principal, key=key) as admitted:
            if admitted:
                return self.reserve(principal=principal, key=key, fingerprint=fingerprint,
                                    method=method, path=path, wait_seconds=wait_seconds,
                                    expires_at=expires_at)
        # No read of the row: it was held a moment ago, and a refusal must stay
        # cheap (a storm's refusals share the workers left to everyone else).
        raise NoWaiterSlot()
