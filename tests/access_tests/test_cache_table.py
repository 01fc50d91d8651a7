"""The database cache's table comes with `migrate`; without it the lockout cannot count, and `check` fails."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from access.checks import check_lockout_cache_table
from tests.site_tests.test_settings import run_manage

TABLE = "taos_cache"


def embedded(tmp_path: Path) -> dict[str, str]:
    """The environment of the embedded default (SQLite, the database cache) in `tmp_path`."""
    return {"TAOS_VAR_DIR": str(tmp_path), "TAOS_SQLITE_PATH": str(tmp_path / "db.sqlite3")}


def tables(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def run(tmp_path: Path, *args: str):
    result = run_manage(*args, env=embedded(tmp_path))
    return result.returncode, result.stdout + result.stderr


def test_migrate_alone_makes_the_cache_table_and_check_passes(tmp_path):
    code, output = run(tmp_path, "check")
    assert code == 0, output  # a fresh database: migrate is still to come
    assert not (tmp_path / "db.sqlite3").exists()  # and check made no empty one
    code, output = run(tmp_path, "migrate", "--noinput")
    assert code == 0, output
    assert TABLE in tables(tmp_path)
    code, output = run(tmp_path, "check")
    assert code == 0, output


def test_a_missing_cache_table_fails_check_until_createcachetable(tmp_path):
    assert run(tmp_path, "migrate", "--noinput")[0] == 0
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        db.execute(f"DROP TABLE {TABLE}")
    code, output = run(tmp_path, "check")
    assert code != 0
    assert "taos.E030" in output and f"'{TABLE}' is missing" in output
    assert "createcachetable" in output
    assert run(tmp_path, "createcachetable")[0] == 0
    code, output = run(tmp_path, "check")
    assert code == 0, output


def test_an_existing_database_gets_the_table_from_its_next_migrate(tmp_path):
    assert run(tmp_path, "migrate", "--noinput")[0] == 0
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:  # as it was before access.0001
        db.execute(f"DROP TABLE {TABLE}")
        db.execute("DELETE FROM django_migrations WHERE app = 'access'")
    code, output = run(tmp_path, "migrate", "--noinput")
    assert code == 0, output
    assert TABLE in tables(tmp_path)


def test_migrate_twice_and_createcachetable_are_harmless(tmp_path):
    for args in (("migrate", "--noinput"), ("createcachetable",), ("migrate", "--noinput")):
        code, output = run(tmp_path, *args)
        assert code == 0, output
    assert run(tmp_path, "check")[0] == 0


@pytest.mark.parametrize("backend", ["django.core.cache.backends.locmem.LocMemCache",
                                     "django.core.cache.backends.dummy.DummyCache"])
def test_a_cache_that_workers_do_not_share_fails_check(settings, backend):
    from access.checks import check_access_settings

    settings.CACHES = {"default": {"BACKEND": backend}}
    assert "taos.E005" in [message.id for message in check_access_settings()]


def test_redis_needs_no_table(settings):
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:6379/0"}}
    assert check_lockout_cache_table() == []
