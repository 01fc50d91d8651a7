"""The bulk loaders fill an arbitrary table on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import sqlite3

import pytest
from django.db import connection

from bench.dbtools import BenchDatabase, bench_database_name
from tests.support.live_env import live_database_env

pytestmark = [pytest.mark.bench]

TABLE = "bench_scratch"
SERVER_TITLES = {"postgresql": "PostgreSQL", "mysql": "MariaDB"}


def suite_database() -> BenchDatabase:
    """Return a BenchDatabase on the suite's own test database (whatever its engine)."""
    env = live_database_env()
    if connection.vendor == "sqlite":
        connection.close()  # the loader takes the write lock on the file
        return BenchDatabase(vendor="sqlite", path=env["TAOS_SQLITE_PATH"])
    return BenchDatabase(vendor=connection.vendor, url=env["DATABASE_URL"])


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def scratch(request, tmp_path) -> BenchDatabase:
    """A BenchDatabase with an empty table `bench_scratch` (n, label, flag)."""
    if request.param == "sqlite":
        database = BenchDatabase(vendor="sqlite", path=tmp_path / "scratch.sqlite3")
        sqlite3.connect(database.path).close()
    else:
        request.getfixturevalue("transactional_db")
        if connection.vendor != request.param:
            pytest.skip(f"the {SERVER_TITLES[request.param]} loaders need DATABASE_URL on "
                        f"{SERVER_TITLES[request.param]}")
        database = suite_database()
    database.execute(f"DROP TABLE IF EXISTS {TABLE}")
    database.execute(f"CREATE TABLE {TABLE} (n bigint PRIMARY KEY, label varchar(40) NOT NULL, "
                     f"flag boolean NOT NULL)")
    yield database
    database.execute(f"DROP TABLE IF EXISTS {TABLE}")


def test_load_generated_inserts_rows_computed_from_the_row_number(scratch):
    # `||` concatenates on every vendor (on MariaDB in the loader's session).
    columns = {"n": "i", "label": "'row-' || i", "flag": "i % 2 = 0"}
    report = scratch.load_generated(TABLE, columns, rows=2_500, batch_rows=1_000)
    assert report.rows == 2_500
    assert scratch.count(TABLE) == 2_500
    assert scratch.scalar(f"SELECT label FROM {TABLE} WHERE n = %s", (1_777,)) == "row-1777"
    assert scratch.scalar(f"SELECT count(*) FROM {TABLE} WHERE flag") == 1_250


def test_load_generated_can_start_past_existing_rows(scratch):
    columns = {"n": "i", "label": "'x'", "flag": scratch.pick(postgresql="false", mysql="false",
                                                               sqlite="0")}
    scratch.load_generated(TABLE, columns, rows=10)
    scratch.load_generated(TABLE, columns, rows=10, start=11)
    assert scratch.scalar(f"SELECT max(n) FROM {TABLE}") == 20


def test_load_rows_inserts_python_rows(scratch):
    rows = ((n, f"py-{n}", n % 3 == 0) for n in range(1, 25_001))
    report = scratch.load_rows(TABLE, ["n", "label", "flag"], rows)
    assert report.rows == 25_000
    assert scratch.count(TABLE) == 25_000
    assert scratch.scalar(f"SELECT label FROM {TABLE} WHERE n = %s", (24_999,)) == "py-24999"


def test_a_failed_load_leaves_nothing_behind(scratch):
    rows = [(1, "a", True), (1, "duplicate key", True)]
    with pytest.raises(Exception):
        scratch.load_rows(TABLE, ["n", "label", "flag"], rows)
    assert scratch.count(TABLE) == 0


def test_a_load_longer_than_the_servers_recursion_limit_is_complete(scratch):
    """MariaDB stops a recursive CTE at max_recursive_iterations (1,000 here): not the loader."""
    columns = {"n": "i", "label": "'deep'", "flag": scratch.pick(postgresql="true", mysql="true",
                                                                  sqlite="1")}
    report = scratch.load_generated(TABLE, columns, rows=5_000, batch_rows=5_000)
    assert report.rows == scratch.count(TABLE) == 5_000


@pytest.mark.parametrize("url", [
    "postgres://root@127.0.0.1:5432/taos",
    "mysql://root@127.0.0.1:3306/taos",
    "mysql://root@127.0.0.1:3306/",
])
def test_the_runner_refuses_to_recreate_a_database_not_named_bench(url):
    with pytest.raises(ValueError, match="must contain 'bench'"):
        bench_database_name(url)


def test_the_bench_database_name_comes_from_the_url_path():
    assert bench_database_name("postgres://root@127.0.0.1:5432/taos_bench_run") == "taos_bench_run"
    assert bench_database_name("mysql://u:p%40ss@db:3306/taos_bench_run_s1") == "taos_bench_run_s1"


def test_loaded_idempotency_rows_are_records_the_app_reads(transactional_db):
    """Bulk-loaded rows (bench/scenarios/idempotency_table.py) read back through the model."""
    import json

    from bench.scenarios.idempotency_table import TABLE, record_columns
    from idempotency.models import IdempotencyRecord

    database = suite_database()
    database.load_generated(TABLE, record_columns(database, expired=False, salt="live"), rows=300)
    database.load_generated(TABLE, record_columns(database, expired=True, salt="old"), rows=200)

    records = IdempotencyRecord.objects.all()
    assert records.count() == 500
    assert sum(r.is_expired for r in records) == 200
    assert len({(r.key, r.principal) for r in records}) == 500
    assert len({r.principal for r in records}) > 100
    record = records.filter(principal__startswith="agent:").first()
    assert (record.method, record.path, record.response_status) == ("POST", "/api/agents/", 201)
    body = json.loads(bytes(record.response_body))
    assert body["name"].startswith("bench-agent-") and body["status"] == "registered"
    assert record.response_headers["Location"] == f"/api/agents/{body['name']}/"
    assert len(record.fingerprint) == 64
    assert record.created_at < record.expires_at
    assert len({r.expires_at for r in records}) == 500  # no two rows share a timestamp


def test_loaded_idempotency_timestamps_compare_like_the_ones_django_writes(transactional_db):
    """A row is found by its own expires_at: on SQLite, the text is in Django's format."""
    from bench.scenarios.idempotency_table import TABLE, record_columns
    from idempotency.models import IdempotencyRecord

    database = suite_database()
    database.load_generated(TABLE, record_columns(database, expired=True, salt="eq"), rows=50)
    for record in IdempotencyRecord.objects.order_by("expires_at")[:10]:
        assert IdempotencyRecord.objects.filter(pk=record.pk, expires_at=record.expires_at).exists()
        assert IdempotencyRecord.objects.filter(
            pk=record.pk, expires_at__gte=record.expires_at).exists()


def test_loaded_rows_expire_around_now_in_utc(transactional_db):
    """Live rows expire within the next two days, expired ones within the last two (UTC).

    On MariaDB the loader writes UTC_TIMESTAMP(), as Django stores naive UTC:
    NOW() would be the session's time zone.
    """
    import datetime as dt

    from django.utils import timezone

    from bench.scenarios.idempotency_table import TABLE, _live_rows, record_columns
    from idempotency.models import IdempotencyRecord

    database = suite_database()
    database.load_generated(TABLE, record_columns(database, expired=False, salt="new"), rows=40)
    database.load_generated(TABLE, record_columns(database, expired=True, salt="gone"), rows=60)
    now = timezone.now()
    live = IdempotencyRecord.objects.filter(expires_at__gt=now)
    assert live.count() == _live_rows(database) == 40
    assert all(now < r.expires_at <= now + dt.timedelta(days=1) for r in live)
    assert all(now - dt.timedelta(days=2) < r.expires_at <= now
               for r in IdempotencyRecord.objects.filter(expires_at__lte=now))


def test_the_table_size_is_reported(transactional_db):
    from bench.scenarios.idempotency_table import TABLE, record_columns, table_bytes

    database = suite_database()
    database.load_generated(TABLE, record_columns(database, expired=False, salt="size"), rows=200)
    assert table_bytes(database) > 200 * 300  # ~330-byte bodies, before the indexes
