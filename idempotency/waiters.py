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
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

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
    """Return whether this engine counts slots in files (PostgreSQL does it in the insert)."""
    return connection.vendor != "postgresql"


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
