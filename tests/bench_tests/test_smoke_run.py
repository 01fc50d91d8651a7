"""`python -m bench --smoke --all` on SQLite: real gunicorn, real numbers, the expected JSON.

Every item of the bench's table runs (small: 2 rounds of 20 requests, 2,000
big rows, 2 workers), plus the reference items. Deselect with `-m "not
bench"` (or `-m "not live"`) where a run must be quick.
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
SMOKE_TIMEOUT_SECONDS = 180
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
SMOKE_ROUNDS = 2
SMOKE_REQUESTS = 20
SMOKE_BIG_ROWS = 2_000


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict, Path]:
    out = tmp_path_factory.mktemp("bench-smoke")
    # The smoke run is SQLite-only whatever the suite runs on.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    argv = [sys.executable, "-m", "bench", "--smoke", "--all", "--engines", "sqlite",
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


def _rows(engine: dict, special: str) -> dict[str, dict]:
    outcome = engine["specials"][special]
    assert outcome["error"] is None, outcome["error"]
    return {row["measure"]: row for row in outcome["rows"]}


def test_smoke_run_reports_no_errors(smoke):
    _, document, _ = smoke
    assert document["errors"] == []
    assert document["schema"] == 1
    assert document["config"]["rounds"] == SMOKE_ROUNDS
    assert document["config"]["smoke"] is True


def test_the_load_authenticates_with_an_operator_token_and_throttling_is_off(smoke, engine):
    _, document, _ = smoke
    assert engine["auth"] == "operator_token"
    setup = document["setup_markdown"]
    assert "load auth operator_token" in setup
    assert "TAOS_THROTTLE_ANON=off, TAOS_THROTTLE_USER=off" in setup


@pytest.mark.parametrize("name,status", [
    ("list", "200"), ("read", "200"), ("create", "201"), ("ceiling", "401"),
    ("create_keyed", "201"), ("replay", "201"), ("agent_me", "200"), ("read_session", "200"),
])
def test_each_scenario_has_every_round_with_real_numbers(engine, name, status):
    scenario = engine["scenarios"][name]
    rounds = scenario["rounds"]
    assert len(rounds) % SMOKE_ROUNDS == 0 and rounds  # pooled over its comparisons
    for one in rounds:
        assert one["requests"] == SMOKE_REQUESTS
        assert one["statuses"] == {status: SMOKE_REQUESTS}  # no wrong answer either
        assert one["throughput_rps"] > 0
        assert 0 < one["p50_ms"] <= one["p95_ms"] <= one["p99_ms"]
        # Server CPU comes from /proc/<pid>/stat in clock ticks (10 ms): a smoke
        # round of cheap 401s (~0.3 ms each) may stay under one tick.
        if name == "ceiling":
            assert one["server_cpu_ms_per_request"] >= 0
        else:
            assert one["server_cpu_ms_per_request"] > 0
        assert one["client_cpu_ms_per_request"] > 0
    assert scenario["statuses"] == {status: len(rounds) * SMOKE_REQUESTS}
    latency = scenario["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    throughput = scenario["throughput_rps"]
    assert throughput["min"] <= throughput["median"] <= throughput["max"]
    assert throughput["n"] == len(rounds)


def test_the_database_replay_path_runs_only_where_there_is_redis(engine):
    assert "replay_db" not in engine["scenarios"]
    assert "create_keyed_db" not in engine["scenarios"]
    assert "create_keyed_db_vs_create" not in engine["comparisons"]
    assert "replay_db_vs_create" not in engine["comparisons"]
    assert "same_key_64_db" not in engine["specials"]


@pytest.mark.parametrize("name", [
    "create_keyed_vs_create", "replay_vs_create", "replay_vs_read", "me_token_vs_session",
    "read_token_vs_session", "create_vs_read",
])
def test_each_comparison_ratio_is_the_median_of_its_per_round_throughput_ratios(engine, name):
    compared = engine["comparisons"][name]
    rounds = compared["rounds"]
    assert len(rounds) == SMOKE_ROUNDS
    expected = [r["a_throughput_rps"] / r["b_throughput_rps"] for r in rounds]
    assert compared["ratios"] == pytest.approx(expected, rel=1e-3)
    assert compared["median"] == pytest.approx(statistics.median(expected), rel=1e-3)
    assert compared["spread"]["min"] <= compared["median"] <= compared["spread"]["max"]
    cpu = [r["b_server_cpu_ms"] / r["a_server_cpu_ms"] for r in rounds]
    assert compared["server_cpu_per_request_ratio_b_over_a"]["median"] == pytest.approx(
        statistics.median(cpu), rel=1e-2)
    assert compared["unexpected"] == 0
    # Two rounds give no verdict on a target; a reference has none.
    assert compared["verdict"] == ("too few rounds" if compared["target"] else None)


def test_replay_vs_create_on_sqlite_is_held_to_the_database_target(engine):
    assert engine["comparisons"]["replay_vs_create"]["target"]["value"] == 2.0


def test_sixty_four_same_key_requests_make_one_agent_and_wait_for_the_delayed_first(engine):
    rows = _rows(engine, "same_key_64")
    made = rows[f"agents made (worst of {SMOKE_ROUNDS} rounds)"]
    assert (made["value"], made["verdict"]) == (1, "pass")
    differing = rows[f"201s with another body than the first (worst of {SMOKE_ROUNDS} rounds)"]
    assert (differing["value"], differing["verdict"]) == (0, "pass")
    unfair = rows[f"answers neither 201 nor 409 + Retry-After (worst of {SMOKE_ROUNDS} rounds)"]
    assert (unfair["value"], unfair["verdict"]) == (0, "pass")
    slowest = rows[f"slowest answer (median of {SMOKE_ROUNDS} rounds)"]
    # Every answer waits for the first, which sleeps 0.3 s (X-Test-Delay honoured).
    assert all(0.3 <= s < 30 for s in slowest["detail"]["rounds"])


def test_authentication_queries_are_counted_not_assumed(engine):
    rows = _rows(engine, "auth_queries")
    token = rows["agent token, GET /api/agent/me/: authentication queries"]
    assert (token["value"], token["verdict"]) == (1, "pass")
    assert token["detail"]["statements"] == 1
    assert "tokens_agenttoken" in token["detail"]["sql"][0]["sql"]
    session = rows["session, GET /api/agents/{slug}/: authentication queries"]
    assert session["value"] == 2
    assert [s["sql"].split('"')[1] for s in session["detail"]["sql"]
            if s["phase"] == "authentication"] == ["django_session", "auth_user"]
    operator = rows["operator token, GET /api/agents/{slug}/: authentication queries"]
    assert operator["value"] == 1
    assert operator["detail"]["statements"] == session["detail"]["statements"] - 1


def test_sixty_four_token_issues_give_one_201_and_63_conflicts(engine):
    rows = _rows(engine, "token_issue_64")
    expected = {"201s": 1, "409s token_already_active": 63, "5xx (and transport errors)": 0,
                "active tokens afterwards": 1}
    for measure, value in expected.items():
        row = rows[f"{measure} (worst of {SMOKE_ROUNDS} rounds)"]
        assert (row["value"], row["verdict"]) == (value, "pass"), measure
        assert row["detail"]["rounds"] == [value] * SMOKE_ROUNDS


def test_the_big_table_measure_alternates_a_loaded_table_with_a_small_one(engine):
    outcome = engine["specials"]["idem_table_big"]
    assert outcome["error"] is None, outcome["error"]
    ratio = outcome["rows"][0]
    small_rows, big_rows = ratio["detail"]["rows"]
    assert small_rows == 1_001  # 1,000 loaded + the replayed key
    assert big_rows > SMOKE_BIG_ROWS
    assert len(ratio["detail"]["ratios"]) == SMOKE_ROUNDS
    assert ratio["value"] == pytest.approx(statistics.median(ratio["detail"]["ratios"]))
    assert ratio["target"] == {"op": "<=", "value": 1.15, "unit": ""}
    loaded = outcome["rows"][3]
    assert loaded["detail"]["rows"] == SMOKE_BIG_ROWS


def test_the_purge_times_its_statements_and_commits_and_leaves_no_expired_row(engine):
    rows = _rows(engine, "purge_big_under_replay")
    longest = rows["longest single statement"]
    assert longest["value"] > 0
    timing = longest["detail"]
    assert timing["argv"] == ["purge_idempotency_keys", "--batch-size", "1000"]
    # Two batches of 1,000, each a SELECT of ids, then a DELETE and its COMMIT (timed
    # too: not a cursor statement); then the SELECT that finds none left.
    kinds = timing["kinds"]
    assert (kinds["SELECT"], kinds["DELETE"], kinds["COMMIT"]) == (3, 2, 2)
    assert timing["statements"] == sum(kinds.values())
    assert timing["longest_statement_s"] == pytest.approx(
        max(s["seconds"] for s in timing["slowest"]), abs=1e-6)
    left = rows["expired rows left after the purge"]
    assert (left["value"], left["verdict"]) == (0, "pass")
    during = rows["replay p99 while the purge ran"]
    assert during["detail"]["all_replays"] > 0
    assert set(during["detail"]["all_statuses"]) == {"201"}


def test_the_clearsessions_reference_empties_the_table(engine):
    rows = _rows(engine, "clearsessions_big")
    left = rows["expired rows left after the command"]
    assert (left["value"], left["verdict"]) == (0, "pass")


def test_the_table_is_printed_and_stored(smoke):
    result, document, _ = smoke
    table = document["table_markdown"]
    assert table.startswith("| engine | item | measure |")
    assert table in result.stdout
    assert document["setup_markdown"] in result.stdout
    assert ("| sqlite | idempotent create (fresh keys) vs create without a key | "
            "throughput ratio (create_keyed / create) |") in table


@pytest.mark.skipif(not HAVE_MATPLOTLIB, reason="matplotlib comes with requirements-bench.txt")
def test_the_plot_is_a_png(smoke):
    _, _, out = smoke
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_peer_column_runs_ours_beside_the_control_and_says_why_theirs_did_not(smoke, engine):
    rows = _rows(engine, "peer_column")
    by_metric = {(r["detail"]["side"], r["detail"]["metric"]): r for r in rows.values()}
    # SQLite: no Redis, so neither drf-idempotency nor our database-path variant.
    assert {side for side, _ in by_metric} == {"control", "ours"}
    aa = by_metric[("control", "aa")]
    assert len(aa["detail"]["rounds"]) == SMOKE_ROUNDS and aa["value"] > 0
    for metric in ("fresh_ratio", "added_p50_ms", "replay_ratio"):
        measured = by_metric[("ours", metric)]
        assert len(measured["detail"]["rounds"]) == SMOKE_ROUNDS
        assert measured["value"] == pytest.approx(statistics.median(measured["detail"]["rounds"]))
        assert measured["verdict"] in ("pass", "miss") or metric == "replay_ratio"
    assert 0 < by_metric[("ours", "fresh_ratio")]["value"]
    assert "drf-idempotency: not run (it needs Redis)" in by_metric[("ours", "fresh_ratio")]["note"]
    result, document, _ = smoke
    assert document["peer_markdown"].startswith("sqlite: control A/A ")
    assert document["peer_markdown"] in result.stdout
