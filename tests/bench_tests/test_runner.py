"""`python -m bench.run --smoke` on SQLite: real gunicorn, real numbers, the expected JSON.

Deselect with `-m "not bench"` (or `-m "not live"`) where a run must be quick.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.live, pytest.mark.bench]

ROOT = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT_SECONDS = 120
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
SMOKE_ROUNDS = 2
SMOKE_REQUESTS = 20


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict, Path]:
    out = tmp_path_factory.mktemp("bench-smoke")
    # The smoke run is SQLite-only whatever the suite runs on.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    argv = [sys.executable, "-m", "bench.run", "--smoke", "--engines", "sqlite",
            "--out", str(out)]
    if not HAVE_MATPLOTLIB:  # `make test` installs requirements-dev only
        argv.append("--no-plot")
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=SMOKE_TIMEOUT_SECONDS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, json.loads((out / "results.json").read_text()), out


@pytest.fixture(scope="module")
def engine(smoke) -> dict:
    _, document, _ = smoke
    assert [e["engine"] for e in document["engines"]] == ["sqlite"]
    return document["engines"][0]


def test_smoke_run_reports_no_errors(smoke):
    _, document, _ = smoke
    assert document["errors"] == []
    assert document["schema"] == 1
    assert document["config"]["rounds"] == SMOKE_ROUNDS
    assert document["config"]["smoke"] is True


@pytest.mark.parametrize("name,status", [("list", "200"), ("read", "200"), ("create", "201")])
def test_each_scenario_has_every_round_with_real_numbers(engine, name, status):
    scenario = engine["scenarios"][name]
    assert len(scenario["rounds"]) == SMOKE_ROUNDS
    for one in scenario["rounds"]:
        assert one["requests"] == SMOKE_REQUESTS
        assert one["statuses"] == {status: SMOKE_REQUESTS}
        assert one["throughput_rps"] > 0
        assert 0 < one["p50_ms"] <= one["p95_ms"] <= one["p99_ms"]
        assert one["server_cpu_ms_per_request"] > 0
    assert scenario["statuses"] == {status: SMOKE_ROUNDS * SMOKE_REQUESTS}
    latency = scenario["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    throughput = scenario["throughput_rps"]
    assert throughput["min"] <= throughput["median"] <= throughput["max"]
    assert throughput["n"] == SMOKE_ROUNDS


def test_the_comparison_ratio_is_the_median_of_per_round_throughput_ratios(engine):
    compared = engine["comparisons"]["create_vs_read"]
    create, read = engine["scenarios"]["create"]["rounds"], engine["scenarios"]["read"]["rounds"]
    expected = [c["throughput_rps"] / r["throughput_rps"] for c, r in zip(create, read)]
    assert compared["ratios"] == pytest.approx(expected, rel=1e-3)
    assert compared["median"] == pytest.approx(statistics.median(expected), rel=1e-3)
    assert compared["spread"]["min"] <= compared["median"] <= compared["spread"]["max"]
    assert compared["target"] is None and compared["verdict"] is None
    cpu = [r["server_cpu_ms_per_request"] / c["server_cpu_ms_per_request"]
           for c, r in zip(create, read)]
    assert compared["server_cpu_per_request_ratio_b_over_a"]["median"] == pytest.approx(
        statistics.median(cpu), rel=1e-2)


def test_the_purge_measure_times_its_statements_and_empties_the_table(engine):
    special = engine["specials"]["clearsessions_big"]
    assert special["error"] is None
    rows = {row["measure"]: row for row in special["rows"]}
    loaded = rows["bulk load: 2,000 rows into django_session"]
    assert loaded["detail"]["rows"] == 2_000
    longest = rows["longest single statement"]
    assert longest["value"] > 0
    assert longest["detail"]["statements"] >= 1
    assert any("DELETE" in s["sql"] for s in longest["detail"]["slowest"])
    left = rows["expired rows left after the command"]
    assert (left["value"], left["verdict"]) == (0, "pass")


def test_the_table_is_printed_and_stored(smoke):
    result, document, _ = smoke
    table = document["table_markdown"]
    assert table.startswith("| engine | item | measure |")
    assert table in result.stdout
    assert "| sqlite | create vs read | throughput ratio (create / read) |" in table


@pytest.mark.skipif(not HAVE_MATPLOTLIB, reason="matplotlib comes with requirements-bench.txt")
def test_the_plot_is_a_png(smoke):
    _, _, out = smoke
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
