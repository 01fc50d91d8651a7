"""Direct access to a bench database, for bulk loads and checks outside the site.

The bench process does not import Django (one process drives several
engines), so it talks to the database with the plain driver: psycopg for
PostgreSQL, mysqlclient (MySQLdb) for MariaDB, sqlite3 for SQLite. Vendors
are named as Django names them (`postgresql`, `mysql`, `sqlite`). Two bulk
loaders fill an arbitrary table:

- `load_generated()`: rows computed by the database itself from a row number
  `i` (PostgreSQL `generate_series`, MariaDB and SQLite a recursive CTE):
  nothing crosses the wire, ~1,000,000 rows in seconds.
- `load_rows()`: rows from any Python iterable (PostgreSQL COPY FROM STDIN,
  MariaDB and SQLite `executemany` in one transaction), when the values must
  come from Python (e.g. fingerprints or digests computed like the
  application does).

Both run in one transaction and ANALYZE the table afterwards, so the planner
sees the loaded size (what a long-lived production table would look like).

`recreate_server_database()` and `drop_server_database()` make and remove
the bench databases of the server engines (PostgreSQL, MariaDB); they refuse
a database whose name does not contain "bench".
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
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql

Vendor = Literal["postgresql", "mysql", "sqlite"]
SERVER_VENDORS = ("postgresql", "mysql")  # reached by URL; the bench creates their databases
GENERATED_BATCH_ROWS = 250_000
EXECUTEMANY_BATCH_ROWS = 10_000
# The loader's own SQLite page cache (KiB, as PRAGMA cache_size takes it when
# negative): a million random keys into a unique index thrash SQLite's 2 MB
# default. It changes nothing in the file, only how fast the bench fills it.
SQLITE_LOADER_CACHE_KIB = 256 * 1024
# MariaDB stops a recursive CTE after max_recursive_iterations (1,000 on
# this server): the loader's own session raises it to one batch.
# PIPES_AS_CONCAT: `||` concatenates, as on PostgreSQL and SQLite, so one
# column expression serves every vendor (without it `||` is a logical OR).
MYSQL_LOADER_SESSION = (
    "SET SESSION sql_mode = CONCAT(@@sql_mode, ',PIPES_AS_CONCAT')",
    "SET SESSION max_recursive_iterations = {batch_rows}",
)


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


def _quote_mysql(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def bench_database_name(url: str) -> str:
    """Return the database name of `url`; refuse one that does not contain 'bench'.

    The bench drops and recreates it: a name without 'bench' may be
    somebody's real database.
    """
    name = unquote(urlsplit(url).path.lstrip("/"))
    if "bench" not in name:
        raise ValueError(
            f"refusing to drop and recreate the database {name!r}: "
            f"the bench database's name must contain 'bench'"
        )
    return name


def _mysql_connect_args(url: str, *, database: str | None = None) -> dict[str, Any]:
    """Return MySQLdb.connect() arguments for a `mysql://user:pw@host:port/name` URL."""
    parts = urlsplit(url)
    args: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1", "port": parts.port or 3306,
        "user": unquote(parts.username or ""), "password": unquote(parts.password or ""),
        "charset": "utf8mb4",
    }
    name = unquote(parts.path.lstrip("/")) if database is None else database
    if name:
        args["database"] = name
    return args


class _MySQLConnection:
    """A MySQLdb connection with `execute()` returning the cursor, as psycopg's and sqlite3's do.

    The loaders and checks below then read the same on every vendor. A
    statement without parameters goes without (MySQLdb would apply `%` to it:
    `i % 4` is SQL here).
    """

    def __init__(self, conn: Any):
        self.raw = conn

    def execute(self, query: str, params: Sequence[Any] = ()) -> Any:
        cursor = self.raw.cursor()
        cursor.execute(query, tuple(params) if params else None)
        return cursor

    def executemany(self, query: str, rows: Sequence[Sequence[Any]]) -> Any:
        cursor = self.raw.cursor()
        cursor.executemany(query, rows)  # one multi-row INSERT per max_allowed_packet
        return cursor


@contextmanager
def _mysql_server(url: str, *, database: str | None = None,
                  autocommit: bool = False) -> Iterator[_MySQLConnection]:
    import MySQLdb

    conn = MySQLdb.connect(**_mysql_connect_args(url, database=database), autocommit=autocommit)
    try:
        yield _MySQLConnection(conn)
        if not autocommit:
            conn.commit()
    except BaseException:
        if not autocommit:
            conn.rollback()
        raise
    finally:
        conn.close()


def recreate_server_database(vendor: Vendor, url: str) -> None:
    """Drop the bench database of `url` (ending its sessions) and create it empty."""
    drop_server_database(vendor, url)
    name = bench_database_name(url)
    if vendor == "postgresql":
        with psycopg.connect(url, dbname="postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    else:
        # utf8mb4, as the site connects (emoji are agent fields); the
        # server's default collation, as production would have it.
        with _mysql_server(url, database="", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {_quote_mysql(name)} CHARACTER SET utf8mb4")


def drop_server_database(vendor: Vendor, url: str) -> None:
    """Drop the bench database of `url` if it exists, ending the sessions still on it.

    PostgreSQL: `WITH (FORCE)`. MariaDB has no such clause (DROP DATABASE
    would wait on a leftover session's metadata lock): the sessions whose
    current database it is are killed first, as FORCE does.
    """
    name = bench_database_name(url)
    if vendor == "postgresql":
        with psycopg.connect(url, dbname="postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
        return
    import MySQLdb

    with _mysql_server(url, database="", autocommit=True) as conn:
        sessions = conn.execute(
            "SELECT id FROM information_schema.processlist "
            "WHERE db = %s AND id <> CONNECTION_ID()", (name,)).fetchall()
        for (session,) in sessions:
            try:
                conn.execute(f"KILL CONNECTION {int(session)}")
            except MySQLdb.OperationalError:
                pass  # ended meanwhile (1094: unknown thread id)
        conn.execute(f"DROP DATABASE IF EXISTS {_quote_mysql(name)}")


class BenchDatabase:
    """One bench database, reached by URL (PostgreSQL, MariaDB) or file path (SQLite)."""

    def __init__(self, *, vendor: Vendor, url: str = "", path: Path | None = None):
        if vendor in SERVER_VENDORS and not url:
            raise ValueError(f"a {vendor} bench database needs a URL")
        if vendor == "sqlite" and path is None:
            raise ValueError("a SQLite bench database needs a path")
        if vendor not in (*SERVER_VENDORS, "sqlite"):
            raise ValueError(f"no bench database for vendor {vendor!r}")
        self.vendor = vendor
        self.url = url
        self.path = path

    def pick(self, *, postgresql: Any, sqlite: Any, mysql: Any) -> Any:
        """Return the value for this database's vendor (SQL differs between them)."""
        return {"postgresql": postgresql, "mysql": mysql, "sqlite": sqlite}[self.vendor]

    def quote(self, identifier: str) -> str:
        """Return `identifier` quoted for this vendor's SQL."""
        return _quote_mysql(identifier) if self.vendor == "mysql" else _quote_sqlite(identifier)

    @contextmanager
    def connect(self, *, batch_rows: int = GENERATED_BATCH_ROWS) -> Iterator[Any]:
        """Yield a DB-API connection; commit on success, roll back on error.

        Every vendor's connection has `execute(query, params)` returning a
        cursor. On MariaDB the session is set up for the loaders
        (MYSQL_LOADER_SESSION, recursion up to `batch_rows`).
        """
        if self.vendor == "postgresql":
            with psycopg.connect(self.url) as conn:  # commits or rolls back on exit
                yield conn
            return
        if self.vendor == "mysql":
            with _mysql_server(self.url) as conn:
                for statement in MYSQL_LOADER_SESSION:
                    conn.execute(statement.format(batch_rows=int(batch_rows)))
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
        return self.pick(postgresql="%s", mysql="%s", sqlite="?")

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
            return conn.execute(f"SELECT count(*) FROM {self.quote(table)}").fetchone()[0]

    def load_generated(
        self, table: str, columns: Mapping[str, str], *, rows: int, start: int = 1,
        batch_rows: int = GENERATED_BATCH_ROWS, analyze: bool = True,
    ) -> LoadReport:
        """Insert `rows` rows computed by the database, one transaction.

        `columns` maps each column to a SQL expression of the row number `i`
        (from `start` to `start + rows - 1`) in this vendor's dialect; use
        `pick()` to give each, e.g. `"now() - interval '2 days'"`,
        `"UTC_TIMESTAMP(6) - INTERVAL 2 DAY"` and
        `"strftime('%Y-%m-%d %H:%M:%f', 'now', '-2 days')"`. `||`
        concatenates on every vendor (MariaDB: PIPES_AS_CONCAT in the loader's
        session).
        """
        t0 = time.perf_counter()
        names = list(columns)
        expressions = [columns[name] for name in names]
        with self.connect(batch_rows=batch_rows) as conn:
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
                elif self.vendor == "mysql":
                    # Bounds as literals, no parameters ('%' is the modulo
                    # operator); MariaDB puts WITH after INSERT's column list.
                    conn.execute(
                        f"INSERT INTO {self.quote(table)} ({', '.join(map(self.quote, names))}) "
                        f"WITH RECURSIVE g(i) AS (SELECT CAST({int(low)} AS SIGNED) UNION ALL "
                        f"SELECT i + 1 FROM g WHERE i < {int(high)}) "
                        f"SELECT {', '.join(expressions)} FROM g"
                    )
                else:
                    conn.execute(
                        "WITH RECURSIVE g(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM g WHERE i < ?) "
                        f"INSERT INTO {self.quote(table)} ({', '.join(map(self.quote, names))}) "
                        f"SELECT {', '.join(expressions)} FROM g",
                        (low, high),
                    )
        if analyze:
            self.analyze(table)
        method = self.pick(postgresql="INSERT ... SELECT generate_series",
                           mysql="INSERT ... SELECT recursive CTE",
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
                    f"INSERT INTO {self.quote(table)} ({', '.join(map(self.quote, columns))}) "
                    f"VALUES ({', '.join(self._param() for _ in columns)})"
                )
                iterator = iter(rows)
                while batch := list(islice(iterator, EXECUTEMANY_BATCH_ROWS)):
                    conn.executemany(statement, batch)
                    count += len(batch)
        if analyze:
            self.analyze(table)
        method = self.pick(postgresql="COPY FROM STDIN", mysql="multi-row INSERT (executemany)",
                           sqlite="executemany, one transaction")
        return LoadReport(table, count, time.perf_counter() - t0, method)

    def analyze(self, table: str) -> None:
        if self.vendor == "postgresql":
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        elif self.vendor == "mysql":
            with _mysql_server(self.url, autocommit=True) as conn:
                conn.execute(f"ANALYZE TABLE {self.quote(table)}").fetchall()
        else:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                conn.execute(f"ANALYZE {_quote_sqlite(table)}")
            finally:
                conn.close()
