"""Direct access to a bench database, for bulk loads and checks outside the site.

The runner does not import Django (one runner process drives several
engines), so it talks to the database with the plain driver: psycopg for
PostgreSQL, sqlite3 for SQLite. Two bulk loaders fill an arbitrary table:

- `load_generated()`: rows computed by the database itself from a row number
  `i` (PostgreSQL `generate_series`, SQLite a recursive CTE): nothing crosses
  the wire, ~1,000,000 rows in seconds.
- `load_rows()`: rows from any Python iterable (PostgreSQL COPY FROM STDIN,
  SQLite `executemany` in one transaction), when the values must come from
  Python (e.g. fingerprints or digests computed like the application does).

Both run in one transaction and ANALYZE the table afterwards, so the planner
sees the loaded size (what a long-lived production table would look like).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql

Vendor = Literal["postgresql", "sqlite"]
GENERATED_BATCH_ROWS = 250_000
EXECUTEMANY_BATCH_ROWS = 10_000
# The loader's own SQLite page cache (KiB, as PRAGMA cache_size takes it when
# negative): a million random keys into a unique index thrash SQLite's 2 MB
# default. It changes nothing in the file, only how fast the bench fills it.
SQLITE_LOADER_CACHE_KIB = 256 * 1024


@dataclass(frozen=True)
class LoadReport:
    table: str
    rows: int
    seconds: float
    method: str

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table, "rows": self.rows, "seconds": round(self.seconds, 3),
                "method": self.method}


def _quote_sqlite(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class BenchDatabase:
    """One bench database, reached by URL (PostgreSQL) or file path (SQLite)."""

    def __init__(self, *, vendor: Vendor, url: str = "", path: Path | None = None):
        if vendor == "postgresql" and not url:
            raise ValueError("a PostgreSQL bench database needs a URL")
        if vendor == "sqlite" and path is None:
            raise ValueError("a SQLite bench database needs a path")
        self.vendor = vendor
        self.url = url
        self.path = path

    def pick(self, *, postgresql: Any, sqlite: Any) -> Any:
        """Return the value for this database's vendor (SQL differs between them)."""
        return postgresql if self.vendor == "postgresql" else sqlite

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """Yield a DB-API connection; commit on success, roll back on error."""
        if self.vendor == "postgresql":
            with psycopg.connect(self.url) as conn:  # commits or rolls back on exit
                yield conn
            return
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute(f"PRAGMA cache_size = -{SQLITE_LOADER_CACHE_KIB}")
            # IMMEDIATE: take the write lock now, like the site does, rather
            # than failing at the first write while a worker writes.
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def _param(self) -> str:
        return self.pick(postgresql="%s", sqlite="?")

    def scalar(self, query: str, params: Sequence[Any] = ()) -> Any:
        """Run `query` (placeholders `%s`, translated for SQLite) and return its first value."""
        query = query.replace("%s", self._param())
        with self.connect() as conn:
            row = conn.execute(query, tuple(params)).fetchone()
        return row[0] if row else None

    def execute(self, query: str, params: Sequence[Any] = ()) -> None:
        query = query.replace("%s", self._param())
        with self.connect() as conn:
            conn.execute(query, tuple(params))

    def count(self, table: str) -> int:
        with self.connect() as conn:
            if self.vendor == "postgresql":
                query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                return conn.execute(query).fetchone()[0]
            return conn.execute(f"SELECT count(*) FROM {_quote_sqlite(table)}").fetchone()[0]

    def load_generated(
        self, table: str, columns: Mapping[str, str], *, rows: int, start: int = 1,
        batch_rows: int = GENERATED_BATCH_ROWS, analyze: bool = True,
    ) -> LoadReport:
        """Insert `rows` rows computed by the database, one transaction.

        `columns` maps each column to a SQL expression of the row number `i`
        (from `start` to `start + rows - 1`) in this vendor's dialect; use
        `pick()` to give both, e.g. `"now() - interval '2 days'"` and
        `"strftime('%Y-%m-%d %H:%M:%f', 'now', '-2 days')"`.
        """
        t0 = time.perf_counter()
        names = list(columns)
        expressions = [columns[name] for name in names]
        with self.connect() as conn:
            for low in range(start, start + rows, batch_rows):
                high = min(low + batch_rows, start + rows) - 1
                if self.vendor == "postgresql":
                    # Bounds as literals and no parameters: psycopg then sends
                    # the expressions as they are ('%' is the modulo operator).
                    statement = sql.SQL(
                        "INSERT INTO {} ({}) SELECT {} "
                        "FROM generate_series({}::bigint, {}::bigint) AS g(i)"
                    ).format(
                        sql.Identifier(table),
                        sql.SQL(", ").join(map(sql.Identifier, names)),
                        sql.SQL(", ").join(sql.SQL(e) for e in expressions),  # type: ignore[arg-type]
                        sql.Literal(low), sql.Literal(high),
                    )
                    conn.execute(statement)
                else:
                    conn.execute(
                        "WITH RECURSIVE g(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM g WHERE i < ?) "
                        f"INSERT INTO {_quote_sqlite(table)} ({', '.join(map(_quote_sqlite, names))}) "
                        f"SELECT {', '.join(expressions)} FROM g",
                        (low, high),
                    )
        if analyze:
            self.analyze(table)
        method = self.pick(postgresql="INSERT ... SELECT generate_series",
                           sqlite="INSERT ... SELECT recursive CTE")
        return LoadReport(table, rows, time.perf_counter() - t0, method)

    def load_rows(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
        analyze: bool = True,
    ) -> LoadReport:
        """Insert every row of `rows` (values in `columns` order), one transaction."""
        t0 = time.perf_counter()
        count = 0
        with self.connect() as conn:
            if self.vendor == "postgresql":
                statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)),
                )
                with conn.cursor() as cursor, cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
            else:
                statement = (
                    f"INSERT INTO {_quote_sqlite(table)} ({', '.join(map(_quote_sqlite, columns))}) "
                    f"VALUES ({', '.join('?' for _ in columns)})"
                )
                iterator = iter(rows)
                while batch := list(islice(iterator, EXECUTEMANY_BATCH_ROWS)):
                    conn.executemany(statement, batch)
                    count += len(batch)
        if analyze:
            self.analyze(table)
        method = self.pick(postgresql="COPY FROM STDIN", sqlite="executemany, one transaction")
        return LoadReport(table, count, time.perf_counter() - t0, method)

    def analyze(self, table: str) -> None:
        if self.vendor == "postgresql":
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        else:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                conn.execute(f"ANALYZE {_quote_sqlite(table)}")
            finally:
                conn.close()
