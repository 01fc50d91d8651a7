"""SQLite: one writer at a time; a request waits at BEGIN, holding one of its key's slot files.

- Waiting: with `"transaction_mode": "IMMEDIATE"` (the database's OPTIONS)
  BEGIN takes the write lock, so that is where a request waits for the
  holder of its key: the connection's busy timeout is set to the wait bound
  for that BEGIN only, and a timeout there is a 409. The holder's row is
  then committed or gone, and the insert (`ON CONFLICT DO NOTHING`) says
  which.
- Slots: `flock` on a small file per slot, taken before BEGIN
  (`admission`). The kernel drops the lock when the file is closed or its
  process dies. Keys are hashed into `BUCKETS` buckets, so the files stay
  few; two keys that share a bucket share its slots, which costs one of them
  a 409 at worst. One host by design: the files must be local to it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from django.core.checks import CheckMessage, Warning
from django.db import OperationalError, connection, transaction

from idempotency import conf
from idempotency.engines import slots
from idempotency.engines.base import INSERTED_COLUMNS, Engine, table_names
from idempotency.errors import IdempotencyKeyInUse
from idempotency.stored import StoredResponse

BUCKETS = 4096


def slot_dir() -> Path:
    """Return the directory of the slot files.

    IDEMPOTENCY_SLOT_DIR, else beside the database file, else (a database
    in memory) a directory under the temporary directory named after the
    database.
    """
    configured = conf.get("SLOT_DIR")
    if configured:
        return Path(configured)
    name = str(connection.settings_dict["NAME"])
    if name and not name.startswith(("file:", ":memory:")):
        return Path(name + "-idempotency-slots")
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir(), f"idempotency-slots-{digest}")


@contextlib.contextmanager
def file_slot(*, principal: str, key: str) -> Iterator[bool]:
    """Hold one of the key's slot files while the block runs; yield whether one was free."""
    bucket = int.from_bytes(slots.digest(principal, key)[:4], "big") % BUCKETS
    directory = slot_dir()
    for slot in range(slots.slot_count()):
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


@contextlib.contextmanager
def _busy_timeout(seconds: float) -> Iterator[None]:
    """Set the connection's busy timeout to `seconds` while the block runs (BEGIN only)."""
    if connection.in_atomic_block:
        yield
        return
    default_ms = int(float(connection.settings_dict["OPTIONS"].get("timeout", 5)) * 1000)
    wait_ms = max(1, int(seconds * 1000))
    if wait_ms == default_ms:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {wait_ms}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {default_ms}")


class SQLiteEngine(Engine):
    vendor = "sqlite"

    def admission(self, *, principal: str, key: str) -> AbstractContextManager[bool]:
        """Hold one of the key's slot files, taken before BEGIN (where SQLite waits)."""
        return file_slot(principal=principal, key=key)

    @contextlib.contextmanager
    def transaction(self, *, wait_seconds: float) -> Iterator[None]:
        """Open the request's transaction; its BEGIN waits at most `wait_seconds` for the write lock."""
        with contextlib.ExitStack() as stack:
            with _busy_timeout(wait_seconds):
                try:
                    stack.enter_context(transaction.atomic())
                except OperationalError as exc:
                    if "locked" in str(exc):
                        raise IdempotencyKeyInUse(retry_after=wait_seconds) from None
                    raise
            yield

    @functools.cached_property
    def insert_sql(self) -> str:
        """The reservation insert; params: the 7 inserted values."""
        table, col = table_names()
        columns = ", ".join(col[name] for name in INSERTED_COLUMNS)
        return (f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                f"ON CONFLICT ({col['key']}, {col['principal']}) DO NOTHING")

    def insert(self, *, principal: str, key: str, fingerprint: str, method: str, path: str,
               now: datetime, expires_at: datetime,
               wait_seconds: float) -> tuple[bool, StoredResponse | None]:
        """Insert the reservation unless the key exists (this transaction holds the write lock)."""
        adapt = connection.ops.adapt_datetimefield_value
        params = [principal, key, method, path, fingerprint, adapt(now), adapt(expires_at)]
        with connection.cursor() as cursor:
            cursor.execute(self.insert_sql, params)
            return cursor.rowcount == 1, None

    def check(self) -> list[CheckMessage]:
        mode = str(connection.settings_dict.get("OPTIONS", {}).get("transaction_mode", ""))
        if mode.upper() == "IMMEDIATE":
            return []
        return [Warning(
            'SQLite runs idempotent requests without "transaction_mode": "IMMEDIATE".',
            hint="Set it in the database's OPTIONS: a request waits for the holder of its key "
                 "at BEGIN, which takes the write lock only in IMMEDIATE mode.",
            id="idempotency.W001",
        )]
