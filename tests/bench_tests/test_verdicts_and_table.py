"""Statistics, targets, verdicts and the Markdown table of the bench report."""

from __future__ import annotations

import math

import pytest

from bench.load import Samples
from bench.measurements import ComparisonResult, EngineResult, ScenarioResult
from bench.registry import MeasureRow, Registry, Target, target_for
from bench.stats import Spread, percentile
from bench.table import fmt, markdown_table, without_nan

pytestmark = [pytest.mark.bench]


async def _never(site, state, load):  # a scenario body the tests never run
    raise AssertionError("not run")


def _registry() -> Registry:
    registry = Registry()
    registry.scenario("a", title="A", expect={200})(_never)
    registry.scenario("b", title="B", expect={201})(_never)
    registry.scenario("c", title="C", expect={200})(_never)
    registry.compare("a_vs_b", title="a vs b", a="a", b="b", target=Target(">=", 0.9))
    return registry


def _samples(rate: float, n: int = 10, status: int = 200) -> Samples:
    """n requests of 10 ms each, finished at `rate` requests per second."""
    return Samples(latencies=[0.01] * n, statuses=[status] * n, starts=[0.0] * n,
                   elapsed=n / rate)


def test_percentile_interpolates_linearly_like_numpy():
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert percentile(values, 50) == 5.5
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(values, 0) == 1
    assert percentile(values, 100) == 10
    assert math.isnan(percentile([], 50))


def test_spread_gives_median_extremes_and_quartiles():
    spread = Spread.of([0.8, 1.0, 1.2, 0.9, 1.1])
    assert (spread.median, spread.min, spread.max, spread.n) == (1.0, 0.8, 1.2, 5)
    assert (spread.q1, spread.q3) == pytest.approx((0.9, 1.1))


def test_target_for_picks_the_engine_name_before_its_tags():
    spec = {"redis": Target(">=", 2.5), "database": Target(">=", 2.0)}
    assert target_for(spec, ("postgres-redis", "postgresql", "redis")) == Target(">=", 2.5)
    assert target_for(spec, ("sqlite", "sqlite", "database")) == Target(">=", 2.0)
    assert target_for(None, ("sqlite",)) is None


def test_a_comparison_passes_on_its_median_round_ratio():
    registry = _registry()
    a, b = ScenarioResult(registry.scenarios["a"]), ScenarioResult(registry.scenarios["b"])
    compared = ComparisonResult(registry.comparisons["a_vs_b"], Target(">=", 0.9))
    for rate_a in (95, 80, 100, 92, 99, 91, 70, 96):  # B at 100 req/s every round
        compared.add_round(a.add(_samples(rate_a)), b.add(_samples(100, status=201)))
    assert compared.spread.median == pytest.approx(0.935)
    assert compared.spread.min == pytest.approx(0.70)
    assert compared.verdict == "pass"


def test_a_comparison_misses_when_its_median_is_below_the_target():
    registry = _registry()
    a, b = ScenarioResult(registry.scenarios["a"]), ScenarioResult(registry.scenarios["b"])
    compared = ComparisonResult(registry.comparisons["a_vs_b"], Target(">=", 0.9))
    for _ in range(8):
        compared.add_round(a.add(_samples(50)), b.add(_samples(100, status=201)))
    assert compared.verdict == "miss"


def test_a_comparison_gives_no_verdict_with_fewer_than_eight_rounds():
    registry = _registry()
    a, b = ScenarioResult(registry.scenarios["a"]), ScenarioResult(registry.scenarios["b"])
    compared = ComparisonResult(registry.comparisons["a_vs_b"], Target(">=", 0.9))
    for _ in range(7):
        compared.add_round(a.add(_samples(100)), b.add(_samples(100, status=201)))
    assert compared.verdict == "too few rounds"


def test_a_comparison_with_unexpected_statuses_is_an_error_not_a_pass():
    registry = _registry()
    a, b = ScenarioResult(registry.scenarios["a"]), ScenarioResult(registry.scenarios["b"])
    compared = ComparisonResult(registry.comparisons["a_vs_b"], Target(">=", 0.9))
    for _ in range(8):
        compared.add_round(a.add(_samples(500, status=500)), b.add(_samples(100, status=201)))
    assert compared.verdict == "error"


def test_select_runs_the_scenarios_of_a_chosen_comparison_inside_it():
    plan = _registry().select(["a_vs_b"])
    assert [c.name for c in plan.comparisons] == ["a_vs_b"]
    assert [s.name for s in plan.scenarios] == ["a", "b"]
    assert plan.singles == []


def test_select_without_only_runs_uncompared_scenarios_on_their_own():
    plan = _registry().select(None)
    assert [s.name for s in plan.singles] == ["c"]


def test_select_rejects_an_unknown_item():
    with pytest.raises(ValueError, match="unknown benchmark item"):
        _registry().select(["nope"])


def test_a_comparison_of_an_unregistered_scenario_is_refused():
    with pytest.raises(ValueError, match="no scenario named"):
        _registry().compare("x", title="x", a="a", b="missing")


def test_the_table_has_a_row_per_scenario_comparison_and_measure():
    registry = _registry()
    engine = EngineResult(name="sqlite", title="SQLite", tags=("sqlite", "sqlite", "database"))
    a, b = ScenarioResult(registry.scenarios["a"]), ScenarioResult(registry.scenarios["b"])
    engine.scenarios = {"a": a, "b": b}
    compared = ComparisonResult(registry.comparisons["a_vs_b"], Target(">=", 0.9))
    engine.comparisons = {"a_vs_b": compared}
    for _ in range(8):
        compared.add_round(a.add(_samples(100)), b.add(_samples(100, status=201)))
    from bench.measurements import SpecialResult

    special = SpecialResult(name="s", title="sixty-four")
    special.rows = [engine.measure_results(MeasureRow("agents made", 1, target=Target("==", 1))),
                    engine.measure_results(MeasureRow("slowest answer", 0.9, "s",
                                                      target=Target("<=", 0.8)))]
    engine.specials = {"s": special}
    table = markdown_table([engine]).splitlines()
    assert table[0] == "| engine | item | measure | value | spread / notes | target | result |"
    assert len(table) == 2 + 2 + 1 + 2
    assert "| a vs b | throughput ratio (a / b) | 1.00 |" in table[4]
    assert table[4].endswith("| >= 0.9 | pass |")
    assert table[5].endswith("| == 1 | pass |")
    assert table[6].endswith("| <= 0.8 s | miss |")


def test_fmt_keeps_three_significant_figures():
    assert fmt(0.82412, "s") == "0.824 s"
    assert fmt(412.7) == "413"
    assert fmt(1234567) == "1,234,567"
    assert fmt(float("nan")) == "—"


def test_without_nan_makes_json_nulls():
    assert without_nan({"a": [1.0, float("nan")], "b": {"c": float("nan")}}) == {
        "a": [1.0, None], "b": {"c": None}}


def test_an_item_for_engines_with_redis_is_left_out_elsewhere():
    registry = _registry()
    registry.scenario("r", title="R", expect={200}, when="redis")(_never)
    registry.compare("r_vs_a", title="r vs a", a="r", b="a", when="redis")
    plan = registry.select(None)
    on_sqlite = plan.for_engine(("sqlite", "sqlite", "database"))
    on_redis = plan.for_engine(("postgres-redis", "postgresql", "redis"))
    assert "r" not in [s.name for s in on_sqlite.scenarios]
    assert "r_vs_a" not in [c.name for c in on_sqlite.comparisons]
    assert "r_vs_a" in [c.name for c in on_redis.comparisons]


def test_a_reference_item_runs_only_when_named_or_with_all():
    registry = _registry()
    registry.special("ref", title="a reference", default=False)(_never)
    assert "ref" not in [s.name for s in registry.select(None).specials]
    assert "ref" in [s.name for s in registry.select(None, everything=True).specials]
    assert [s.name for s in registry.select(["ref"]).specials] == ["ref"]


def test_a_count_that_must_hold_every_round_reports_its_worst_round():
    from bench.scenarios.common import every_round_row, worst

    assert worst([1, 1, 2, 1], Target("==", 1)) == 2
    assert worst([64, 63, 64], Target("==", 64)) == 63
    assert worst([0.4, 0.9, 0.5], Target("<=", 0.8)) == 0.9
    row = every_round_row("agents made", [1, 1, 2], Target("==", 1))
    assert (row.measure, row.value) == ("agents made (worst of 3 rounds)", 2)
    assert row.detail == {"rounds": [1, 1, 2]}
    engine = EngineResult(name="sqlite", title="SQLite", tags=("sqlite",))
    assert engine.measure_results(row).verdict == "miss"


def test_a_median_row_keeps_every_round_and_their_range():
    from bench.scenarios.common import median_row

    row = median_row("slowest answer", [0.5, 0.9, 0.6], "s", Target("<=", 0.8))
    assert row.value == 0.6
    assert row.detail["rounds"] == [0.5, 0.9, 0.6]
    assert "min–max 0.5–0.9 s over 3 rounds" in row.note


def test_the_setup_lines_say_how_the_load_authenticated():
    from bench.table import setup_markdown

    engine = EngineResult(name="sqlite", title="SQLite default", tags=("sqlite",))
    engine.describe = {"server": "gunicorn, 4 sync workers", "auth": "operator_token",
                       "settings": "TAOS_THROTTLE_USER=off", "database": "SQLite file x"}
    assert setup_markdown([engine]) == (
        "- sqlite (SQLite default): gunicorn, 4 sync workers; load auth operator_token; "
        "settings TAOS_THROTTLE_USER=off; SQLite file x")


def test_the_delay_header_is_the_one_the_live_views_read():
    from bench.scenarios.idempotency import DELAY_HEADER
    from harness.live_views import DELAY_HEADER as META_NAME

    assert "HTTP_" + DELAY_HEADER.upper().replace("-", "_") == META_NAME


def _peer_engine(sides: list[str], theirs_note: str = "") -> EngineResult:
    from bench.measurements import MeasureResult, SpecialResult
    from bench.registry import target_for
    from bench.scenarios.peer import SideRounds, peer_rows

    results = {name: SideRounds() for name in sides}
    results["control"].aa_ratio = [0.9, 1.1, 1.05]
    for name, fresh in (("drf", [0.8, 0.8, 0.8]), ("ours", [0.88, 0.96, 0.92]),
                        ("ours_db", [0.9, 0.9, 0.9])):
        if name in results:
            results[name].fresh_ratio = fresh
            results[name].added_p50_ms = [0.4, 0.5, 0.6]
            results[name].replay_ratio = [2.0, 2.5, 3.0]
    tags = ("postgres-redis", "postgresql", "redis")
    rows = peer_rows(results, sides, theirs_note=theirs_note)
    special = SpecialResult(name="peer_column", title="peer column",
                            rows=[MeasureResult(row, target_for(row.target, tags)) for row in rows])
    return EngineResult(name="postgres-redis", title="PostgreSQL + Redis", tags=tags,
                        specials={"peer_column": special})


def test_the_peer_column_judges_ours_against_theirs_beyond_the_a_a_noise():
    from bench.table import peer_cells, peer_markdown

    engine = _peer_engine(["control", "drf", "ours", "ours_db"])
    cells = peer_cells(engine)
    versus = cells[("ours", "ours_over_theirs")]
    assert versus.row.detail["rounds"] == pytest.approx([1.1, 1.2, 1.15])
    assert versus.row.value == pytest.approx(1.15)
    assert versus.target == Target(">=", 1.1)  # 1 + the A/A ratios' widest distance from 1
    assert versus.verdict == "pass"
    assert cells[("ours_db", "ours_over_theirs")].row.value == pytest.approx(1.125)
    assert cells[("ours_db", "ours_over_theirs")].verdict == "pass"
    assert cells[("ours", "fresh_ratio")].verdict == "pass" and cells[("drf", "fresh_ratio")].verdict is None
    table = peer_markdown([engine])
    assert table.startswith("postgres-redis: control A/A 1.05 ")
    assert ("| fresh key / no key throughput | 0.800 [0.80–0.80] | 0.920 [0.88–0.96] (pass) | "
            "0.900 [0.90–0.90] (pass) |") in table


def test_the_peer_column_without_theirs_says_not_run():
    from bench.table import peer_markdown

    table = peer_markdown([_peer_engine(["control", "ours"],
                                        theirs_note="drf-idempotency: not run (it needs Redis)")])
    assert table.startswith("postgres-redis: control A/A 1.05 (min–max 0.90–1.10 over 3 rounds; "
                            "noise floor ±0.10); drf-idempotency: not run (it needs Redis)\n")
    assert "| fresh key / no key throughput | not run | 0.920 [0.88–0.96] (pass) | — |" in table
