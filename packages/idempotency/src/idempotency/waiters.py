"""A key's slots: how many requests of one (principal, key) go past admission at once.

DESIGN.md, "Waiting is fair". A request that finds its key held waits for the
holder, and a waiter holds a worker (or a thread) while it waits; so only the
holder and `IDEMPOTENCY_WAITERS_PER_KEY` waiters of a key are admitted at once,
and the rest answer 409 `idempotency_key_in_use` with `Retry-After` at once.

Where the slots are counted, so that every worker sees them and a dead worker
cannot keep one:

- PostgreSQL: transaction-level advisory locks on `slot_lock_base(...) + n`,
  taken by the reservation insert itself (`services.reserve_admitted`), so a
  fresh key pays no extra statement. They vanish with the transaction, and
  with the connection when a worker dies; every host on the database sees
  them, and they work behind PgBouncer in transaction mode.
- MariaDB: the holder is the request whose reservation insert went through
  without waiting (`services.reserve_admitted` tries it with a lock wait of
  0); only a request that finds the key held takes a waiter slot, a named
  lock of its connection (`GET_LOCK(name, 0)`, `IDEMPOTENCY_WAITERS_PER_KEY`
  names per key, the first free one in one statement), for as long as it
  waits. Named locks are the server's, so every host on the database sees
  them; the server drops them with a dead worker's connection. They are
  session-level, released right after the wait (`named_slot`), so they suit
  direct connections, which is how the site connects to MariaDB.
- SQLite (one host by design) and any other engine: `flock` on a small file
  per slot, taken here before `BEGIN IMMEDIATE` (where SQLite waits). The
  kernel drops the lock when the file is closed or its process dies. Keys are
  hashed into `BUCKETS` buckets, so the files stay few; two keys that share a
  bucket share its slots, which costs one of them a 409 at worst.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

BUCKETS = 4096
# PostgreSQL advisory lock ids: the low bits are the slot number.
SLOT_BITS = 4
MAX_SLOTS = 1 << SLOT_BITS


def slot_count() -> int:
    """Return how many requests of one key may be admitted at once: the holder and its waiters."""
    return min(MAX_SLOTS, 1 + max(0, int(settings.IDEMPOTENCY_WAITERS_PER_KEY)))


def _digest(principal: str, key: str) -> bytes:
    return hashlib.sha256(f"{principal}\n{key}".encode()).digest()


def slot_lock_base(principal: str, key: str) -> int:
    """Return the PostgreSQL advisory lock id of slot 0 of (principal, key); slot n is base + n."""
    base = int.from_bytes(_digest(principal, key)[:8], "big", signed=True)
    return base & ~(MAX_SLOTS - 1)


def slot_dir() -> Path:
    """Return the directory of the slot files: IDEMPOTENCY_SLOT_DIR, else beside the database."""
    if settings.IDEMPOTENCY_SLOT_DIR:
        return Path(settings.IDEMPOTENCY_SLOT_DIR)
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and name and not name.startswith(("file:", ":memory:")):
        return Path(name + "-idempotency-slots")
    return Path(settings.VAR_DIR, "idempotency-slots")


def takes_file_slots() -> bool:
    """Return whether this engine counts slots in files (PostgreSQL and MariaDB: the database)."""
    return connection.vendor not in ("postgresql", "mysql")


def named_slot_names(principal: str, key: str) -> list[str]:
    """Return the MariaDB lock names of the waiter slots of (principal, key) in this database.

    Named locks are server-wide: the database's name keeps two databases on
    one server (a test run beside the site) apart. 64 characters at most.
    """
    scope = f"{connection.settings_dict['NAME']}\n{principal}\n{key}"
    digest = hashlib.sha256(scope.encode()).hexdigest()[:40]
    return [f"taos-idem:{digest}:{n}" for n in range(slot_count() - 1)]


@functools.cache
def _take_named_sql(slots: int) -> str:
    # CASE stops at the first true branch: it takes the first free name only.
    branches = " ".join(f"WHEN GET_LOCK(%s, 0) = 1 THEN {n}" for n in range(slots))
    return f"SELECT CASE {branches} ELSE -1 END"


@contextlib.contextmanager
def named_slot(*, principal: str, key: str) -> Iterator[bool]:
    """MariaDB: hold one of the key's waiter slots while the block runs; yield whether one was free."""
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


@contextlib.contextmanager
def file_slot(*, principal: str, key: str) -> Iterator[bool]:
    """Hold one of the key's slot files while the block runs; yield whether one was free."""
    bucket = int.from_bytes(_digest(principal, key)[:4], "big") % BUCKETS
    directory = slot_dir()
    for slot in range(slot_count()):
        path = directory / f"{bucket:03x}.{slot}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                continue
            raise
        try:
            yield True
        finally:
            os.close(fd)  # closing the only descriptor drops the lock
        return
    yield False
