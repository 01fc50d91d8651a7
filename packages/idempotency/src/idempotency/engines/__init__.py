"""The engine of the database, chosen once per vendor: the one place that asks which database runs.

`current()` returns the `Engine` (engines/base.py) of the default
connection: PostgreSQL, MariaDB/MySQL or SQLite. Everything else calls it
and never tests `connection.vendor`.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from idempotency.engines.base import Engine
from idempotency.engines.mysql import MySQLEngine
from idempotency.engines.postgresql import PostgreSQLEngine
from idempotency.engines.sqlite import SQLiteEngine

ENGINES: dict[str, type[Engine]] = {
    engine.vendor: engine for engine in (PostgreSQLEngine, MySQLEngine, SQLiteEngine)
}

_chosen: dict[str, Engine] = {}


def current() -> Engine:
    """Return the engine of the default database connection."""
    vendor = connection.vendor
    engine = _chosen.get(vendor)
    if engine is None:
        if vendor not in ENGINES:
            raise ImproperlyConfigured(
                f"idempotency supports PostgreSQL, MariaDB/MySQL and SQLite, not {vendor!r}")
        engine = _chosen.setdefault(vendor, ENGINES[vendor]())
    return engine
