"""What a run measured: rounds, scenarios, comparisons, special measures, engines.

Each holds its numbers, their spread and its verdict against its target,
and turns into the JSON of results.json (`as_dict`); bench/table.py lays
them out as the Markdown table.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.load import WRONG_ANSWER, Samples
from bench.registry import (
    MIN_ROUNDS_FOR_VERDICT,
    Comparison,
    MeasureRow,
    Scenario,
    Target,
    Verdict,
    target_for,
    verdict_for,
)
from bench.stats import Spread, percentile, ratio


def _num(value: float) -> float | None:
    """JSON has no NaN: a missing number is null."""
    return None if isinstance(value, float) and math.isnan(value) else value


@dataclass(frozen=True)
class RoundResult:
    """One run of one scenario: `requests` requests in `seconds`."""

    requests: int
    seconds: float
    throughput: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    statuses: dict[str, int]
    unexpected: int
    server_cpu_ms: float = math.nan  # gunicorn CPU time per request
    client_cpu_ms: float = math.nan  # the load generator's CPU time per request

    @classmethod
    def of(cls, samples: Samples, expect: frozenset[int], *,
           server_cpu_seconds: float = math.nan) -> RoundResult:
        per_request = 1000.0 / samples.count if samples.count else math.nan
        return cls(
            requests=samples.count, seconds=samples.elapsed, throughput=samples.throughput,
            p50_ms=samples.latency_ms(50), p95_ms=samples.latency_ms(95),
            p99_ms=samples.latency_ms(99), statuses=samples.status_counts(),
            unexpected=samples.unexpected(expect),
            server_cpu_ms=server_cpu_seconds * per_request,
            client_cpu_ms=samples.client_cpu * per_request,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "seconds": round(self.seconds, 4),
            "throughput_rps": round(self.throughput, 2), "p50_ms": _num(round(self.p50_ms, 3)),
            "p95_ms": _num(round(self.p95_ms, 3)), "p99_ms": _num(round(self.p99_ms, 3)),
            "statuses": self.statuses, "unexpected": self.unexpected,
            "server_cpu_ms_per_request": _num(round(self.server_cpu_ms, 3)),
            "client_cpu_ms_per_request": _num(round(self.client_cpu_ms, 3)),
        }


@dataclass
class ScenarioResult:
    scenario: Scenario
    rounds: list[RoundResult] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # every recorded request, seconds
    statuses: Counter = field(default_factory=Counter)

    def add(self, samples: Samples, *, server_cpu_seconds: float = math.nan) -> RoundResult:
        result = RoundResult.of(samples, self.scenario.expect,
                                server_cpu_seconds=server_cpu_seconds)
        self.rounds.append(result)
        self.latencies.extend(samples.latencies)
        self.statuses.update(samples.statuses)
        if samples.wrong:
            self.statuses[WRONG_ANSWER] += samples.wrong
        return result

    @property
    def throughput(self) -> Spread:
        """Requests per second: the median round and the spread of the rounds."""
        return Spread.of([r.throughput for r in self.rounds])

    def latency_ms(self, q: float) -> float:
        """The q-th percentile of every recorded request of every round."""
        return percentile(self.latencies, q) * 1000.0

    @property
    def server_cpu_ms(self) -> Spread:
        """gunicorn CPU ms per request: the median round and the spread of the rounds."""
        return Spread.of([r.server_cpu_ms for r in self.rounds if not math.isnan(r.server_cpu_ms)])

    @property
    def client_cpu_ms(self) -> Spread:
        """Load generator CPU ms per request: the median round and the spread."""
        return Spread.of([r.client_cpu_ms for r in self.rounds if not math.isnan(r.client_cpu_ms)])

    @property
    def unexpected(self) -> int:
        return sum(r.unexpected for r in self.rounds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.scenario.name, "title": self.scenario.title,
            "expected_statuses": sorted(self.scenario.expect),
            "requests": len(self.latencies),
            "throughput_rps": {k: _num(v) for k, v in self.throughput.as_dict().items()},
            "latency_ms": {
                "p50": _num(self.latency_ms(50)), "p95": _num(self.latency_ms(95)),
                "p99": _num(self.latency_ms(99)),
            },
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=lambda i: str(i[0]))},
            "unexpected": self.unexpected,
            "server_cpu_ms_per_request": {k: _num(v) for k, v in self.server_cpu_ms.as_dict().items()},
            "client_cpu_ms_per_request": {
                k: _num(v) for k, v in self.client_cpu_ms.as_dict().items()},
            "rounds": [r.as_dict() for r in self.rounds],
        }


@dataclass
class ComparisonResult:
    comparison: Comparison
    target: Target | None
    ratios: list[float] = field(default_factory=list)
    # Server CPU per request, B / A: a throughput ratio's noise-resistant
    # companion (equal to it when the server's CPU is the bottleneck).
    cpu_ratios: list[float] = field(default_factory=list)
    unexpected: int = 0
    pairs: list[tuple[RoundResult, RoundResult]] = field(default_factory=list)  # A, B per round

    def add_round(self, a: RoundResult, b: RoundResult) -> None:
        self.pairs.append((a, b))
        if self.comparison.metric == "throughput":
            self.ratios.append(ratio(a.throughput, b.throughput))
        else:
            self.ratios.append(ratio(a.p50_ms, b.p50_ms))
        self.cpu_ratios.append(ratio(b.server_cpu_ms, a.server_cpu_ms))
        self.unexpected += a.unexpected + b.unexpected

    @property
    def cpu_spread(self) -> Spread:
        return Spread.of([r for r in self.cpu_ratios if not math.isnan(r)])

    @property
    def spread(self) -> Spread:
        return Spread.of([r for r in self.ratios if not math.isnan(r)])

    @property
    def verdict(self) -> Verdict | None:
        if self.target is None:
            return None
        if self.unexpected:
            return "error"  # a side answered statuses it should not: the ratio means nothing
        if len(self.ratios) < MIN_ROUNDS_FOR_VERDICT:
            return "too few rounds"
        return verdict_for(self.target, self.spread.median)

    @property
    def measure(self) -> str:
        c = self.comparison
        return f"{c.metric} ratio ({c.a} / {c.b})"

    def as_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "name": c.name, "title": c.title, "a": c.a, "b": c.b,
            "metric": f"{c.metric}_ratio", "note": c.note,
            "ratios": [_num(round(r, 4)) if not math.isnan(r) else None for r in self.ratios],
            "rounds": [{"a_throughput_rps": round(a.throughput, 2),
                        "b_throughput_rps": round(b.throughput, 2),
                        "a_p50_ms": _num(round(a.p50_ms, 3)), "b_p50_ms": _num(round(b.p50_ms, 3)),
                        "a_server_cpu_ms": _num(round(a.server_cpu_ms, 3)),
                        "b_server_cpu_ms": _num(round(b.server_cpu_ms, 3))}
                       for a, b in self.pairs],
            "median": _num(self.spread.median),
            "spread": {k: _num(v) for k, v in self.spread.as_dict().items()},
            "server_cpu_per_request_ratio_b_over_a": {
                k: _num(v) for k, v in self.cpu_spread.as_dict().items()},
            "target": self.target.as_dict() if self.target else None,
            "verdict": self.verdict, "unexpected": self.unexpected,
        }


@dataclass
class MeasureResult:
    row: MeasureRow
    target: Target | None

    @property
    def verdict(self) -> Verdict | None:
        return verdict_for(self.target, float(self.row.value))

    def as_dict(self) -> dict[str, Any]:
        value = self.row.value
        return {
            "measure": self.row.measure,
            "value": _num(float(value)) if isinstance(value, float) else value,
            "unit": self.row.unit, "note": self.row.note,
            "target": self.target.as_dict() if self.target else None,
            "verdict": self.verdict, "detail": self.row.detail,
        }


@dataclass
class SpecialResult:
    name: str
    title: str
    rows: list[MeasureResult] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "seconds": round(self.seconds, 2),
                "error": self.error or None, "rows": [r.as_dict() for r in self.rows]}


@dataclass
class EngineResult:
    name: str
    title: str
    tags: tuple[str, ...]
    describe: dict[str, str] = field(default_factory=dict)
    auth: str = ""
    workers: int = 0
    live_settings: bool = False
    scenarios: dict[str, ScenarioResult] = field(default_factory=dict)
    comparisons: dict[str, ComparisonResult] = field(default_factory=dict)
    specials: dict[str, SpecialResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # items that failed, with why
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per item
    load_average: dict[str, list[float]] = field(default_factory=dict)  # noise from others
    seconds: float = 0.0

    def measure_results(self, row: MeasureRow) -> MeasureResult:
        return MeasureResult(row=row, target=target_for(row.target, self.tags))

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.name, "title": self.title, "tags": list(self.tags),
            "setup": self.describe, "auth": self.auth, "gunicorn_workers": self.workers,
            "live_settings": self.live_settings, "seconds": round(self.seconds, 1),
            "item_seconds": {k: round(v, 1) for k, v in self.timings.items()},
            "load_average": self.load_average,
            "scenarios": {k: v.as_dict() for k, v in self.scenarios.items()},
            "comparisons": {k: v.as_dict() for k, v in self.comparisons.items()},
            "specials": {k: v.as_dict() for k, v in self.specials.items()},
            "errors": self.errors,
        }
