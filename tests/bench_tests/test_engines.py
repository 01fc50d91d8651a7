"""The bench's engines: which items and targets apply where, and the MariaDB provisioning."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import replace

import pytest
from django.db import connection

from bench import scenarios  # noqa: F401  (registers the items)
from bench.config import DEFAULT_ENGINES, RunConfig
from bench.dbtools import bench_database_name, drop_server_database, recreate_server_database
from bench.engines import ENGINES, provision
from bench.registry import REGISTRY, target_for
from bench.running_site import _with_database_suffix
from tests.support.live_env import live_database_env

pytestmark = [pytest.mark.bench]

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def _plan_names(engine: str) -> set[str]:
    plan = REGISTRY.select(None).for_engine(ENGINES[engine].tags)
    return {item.name for item in [*plan.scenarios, *plan.comparisons, *plan.specials]}


def test_make_bench_runs_three_engines_mariadb_among_them():
    assert DEFAULT_ENGINES == ("postgres-redis", "sqlite", "mariadb-redis")
    mariadb = ENGINES["mariadb-redis"]
    assert (mariadb.title, mariadb.tags) == ("MariaDB + Redis", ("mariadb-redis", "mysql", "redis"))


def test_mariadb_runs_what_postgresql_with_redis_runs():
    """Redis-only items (the database-path variants) and the big-table items apply; memory does not."""
    on_mariadb, on_postgres = _plan_names("mariadb-redis"), _plan_names("postgres-redis")
    assert on_mariadb == on_postgres
    assert {"replay_db_vs_create", "create_keyed_db_vs_create", "same_key_64_db",
            "idem_table_big", "purge_big_under_replay"} <= on_mariadb
    assert "make_run_pss" not in on_mariadb


def test_mariadb_replays_from_redis_are_held_to_the_redis_target():
    spec = REGISTRY.comparisons["replay_vs_create"].target
    assert target_for(spec, ENGINES["mariadb-redis"].tags).value == 2.5


def test_the_mysql_url_comes_from_bench_mysql_url(monkeypatch):
    monkeypatch.setenv("BENCH_MYSQL_URL", "mysql://taos:secret@db:3306/x_bench")
    config = RunConfig()
    assert ENGINES["mariadb-redis"].database_url(config) == "mysql://taos:secret@db:3306/x_bench"
    assert config.as_dict()["mysql_url"] == "mysql://taos@db:3306/x_bench"  # no password
    monkeypatch.delenv("BENCH_MYSQL_URL")
    assert RunConfig().mysql_url == "mysql://root@127.0.0.1:3306/taos_bench_run"


def test_a_sibling_mariadb_database_gets_a_suffixed_name():
    assert (_with_database_suffix("mysql://root@127.0.0.1:3306/taos_bench_run", "_s1")
            == "mysql://root@127.0.0.1:3306/taos_bench_run_s1")


def test_the_report_and_plot_take_a_column_per_engine(tmp_path):
    from bench.load import Samples
    from bench.measurements import EngineResult, ScenarioResult
    from bench.plot import write_plot
    from bench.table import markdown_table

    engines = []
    for name in DEFAULT_ENGINES:
        engine = EngineResult(name=name, title=ENGINES[name].title, tags=ENGINES[name].tags)
        result = engine.scenarios["read"] = ScenarioResult(REGISTRY.scenarios["read"])
        result.add(Samples(latencies=[0.01] * 10, statuses=[200] * 10, starts=[0.0] * 10,
                           elapsed=0.1))
        engines.append(engine)
    table = markdown_table(engines)
    assert [line.split(" | ")[0] for line in table.splitlines()[2:]] == [
        f"| {name}" for name in DEFAULT_ENGINES]
    if not HAVE_MATPLOTLIB:
        pytest.skip("matplotlib (requirements-bench.txt) draws the plot")
    assert write_plot(engines, tmp_path / "plot.png")
    from matplotlib import image

    height, width = image.imread(tmp_path / "plot.png").shape[:2]
    assert width > 2 * height  # three columns (6.5 in each) of two rows (8.5 in): two give 1.5


# --- On MariaDB: provisioning ----------------------------------------------------

def _mariadb_url(suffix: str) -> str:
    """A bench database URL on the suite's MariaDB server, named after the test database."""
    if connection.vendor != "mysql":
        pytest.skip("the MariaDB provisioning needs DATABASE_URL on MariaDB")
    url = live_database_env()["DATABASE_URL"]
    return _with_database_suffix(url, suffix)


def _databases(url: str) -> dict[str, str]:
    """Return the server's databases whose name contains 'bench', with their character sets."""
    import MySQLdb

    from bench.dbtools import _mysql_connect_args

    conn = MySQLdb.connect(**_mysql_connect_args(url, database=""))
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT schema_name, default_character_set_name "
                       "FROM information_schema.schemata WHERE schema_name LIKE '%%bench%%'")
        return dict(cursor.fetchall())
    finally:
        conn.close()


def test_provisioning_mariadb_makes_a_fresh_utf8mb4_database_and_drops_it(tmp_path):
    url = _mariadb_url("_bench")
    name = bench_database_name(url)
    redis_url = os.environ.get("REDIS_URL") or pytest.skip("the mariadb-redis engine needs REDIS_URL")
    config = replace(RunConfig(), mysql_url=url, redis_url=redis_url, workers=1,
                     static_root=tmp_path / "static")
    recreate_server_database("mysql", url)
    from bench.dbtools import BenchDatabase

    BenchDatabase(vendor="mysql", url=url).execute("CREATE TABLE left_over (n int)")
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        with provision(ENGINES["mariadb-redis"], config=config, workdir=tmp_path / "w",
                       run_id="h1t", live_settings=False) as site:
            assert _databases(url).get(name) == "utf8mb4"
            assert site.database.count("auth_user") == 1  # the operator, on a fresh database
            assert site.database.scalar(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = 'left_over'") == 0
            assert site.env["DATABASE_URL"] == url
            assert site.env["REDIS_URL"] == redis_url
            assert site.env["CACHE_KEY_PREFIX"] == "taosbench-h1t"
            assert len(site.env["SECRET_KEY"]) > 50 and len(site.env["TOKENS_PEPPER"]) > 50
            assert site.env["SECRET_KEY"] != os.environ.get("SECRET_KEY")
            assert site.describe["database"] == f"MariaDB database {name}"
            client.set("taosbench-h1t:probe", "1")
            client.set("taosbench-h1u:other", "1")  # another run's key
        assert name not in _databases(url)
        assert client.exists("taosbench-h1t:probe") == 0
        assert client.exists("taosbench-h1u:other") == 1
    finally:
        client.delete("taosbench-h1u:other")
        client.close()
        drop_server_database("mysql", url)


def test_dropping_a_mariadb_bench_database_ends_the_sessions_still_on_it():
    """As PostgreSQL's DROP DATABASE ... WITH (FORCE): a leftover session must not block it."""
    import MySQLdb

    from bench.dbtools import _mysql_connect_args

    url = _mariadb_url("_bench_drop")
    recreate_server_database("mysql", url)
    holder = MySQLdb.connect(**_mysql_connect_args(url))
    try:
        cursor = holder.cursor()
        cursor.execute("CREATE TABLE held (n int)")
        cursor.execute("BEGIN")
        cursor.execute("SELECT * FROM held")  # a metadata lock DROP DATABASE would wait on
        drop_server_database("mysql", url)
        assert bench_database_name(url) not in _databases(url)
    finally:
        try:
            holder.close()
        except MySQLdb.Error:
            pass  # killed by the drop
        drop_server_database("mysql", url)


def test_a_mariadb_url_without_bench_in_its_name_is_never_dropped():
    with pytest.raises(ValueError, match="must contain 'bench'"):
        drop_server_database("mysql", "mysql://nobody@127.0.0.1:1/taos")  # refused before connecting
