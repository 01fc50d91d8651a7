"""The table of a run: one Markdown row per engine and item, the setup lines, and results.json.

`results_document()` is the JSON document the command line writes
(bench/results.json): the measurements of every engine with the table and
the setup lines as Markdown.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.measurements import EngineResult
from bench.registry import Target

COLUMNS = ("engine", "item", "measure", "value", "spread / notes", "target", "result")
NO_VALUE = "—"


def fmt(value: float | int | None, unit: str = "") -> str:
    """Format a number to three significant figures (integers as they are)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NO_VALUE
    if isinstance(value, int):
        text = f"{value:,}"
    elif value == 0:
        text = "0"
    else:
        digits = max(0, 2 - int(math.floor(math.log10(abs(value)))))
        text = f"{value:,.{digits}f}"
    return f"{text} {unit}".strip()


def _target_text(target: Target | None, unit: str = "") -> str:
    if target is None:
        return NO_VALUE
    if target.unit or not unit:
        return str(target)
    return f"{target} {unit}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table_rows(engine: EngineResult) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for scenario in engine.scenarios.values():
        if not scenario.rounds:
            continue
        spread = scenario.throughput
        notes = (f"{fmt(spread.min)}–{fmt(spread.max)} req/s over {spread.n} rounds; "
                 f"CPU ms/req server {fmt(scenario.server_cpu_ms.median)}, "
                 f"client {fmt(scenario.client_cpu_ms.median)}")
        if scenario.unexpected:
            notes += f"; {scenario.unexpected} unexpected statuses {dict(scenario.statuses)}"
        rows.append((
            engine.name, scenario.scenario.title, "req/s · p50/p95/p99 ms",
            f"{fmt(spread.median)} · {fmt(scenario.latency_ms(50))}/"
            f"{fmt(scenario.latency_ms(95))}/{fmt(scenario.latency_ms(99))}",
            notes, NO_VALUE, "error" if scenario.unexpected else NO_VALUE,
        ))
    for compared in engine.comparisons.values():
        spread = compared.spread
        if spread.n:
            notes = (f"IQR {fmt(spread.q1)}–{fmt(spread.q3)}, min–max {fmt(spread.min)}–"
                     f"{fmt(spread.max)}, {spread.n} rounds")
        else:
            notes = "no rounds"
        c = compared.comparison
        if c.metric == "throughput" and compared.cpu_spread.n:
            notes += f"; server CPU/req {c.b}/{c.a} {fmt(compared.cpu_spread.median)}"
        if c.note:
            notes += f"; {c.note}"
        rows.append((
            engine.name, compared.comparison.title, compared.measure, fmt(spread.median), notes,
            _target_text(compared.target), compared.verdict or NO_VALUE,
        ))
    for special in engine.specials.values():
        if special.error:
            rows.append((engine.name, special.title, NO_VALUE, NO_VALUE, special.error,
                         NO_VALUE, "error"))
        for measured in special.rows:
            row = measured.row
            rows.append((
                engine.name, special.title, row.measure, fmt(row.value, row.unit), row.note or "",
                _target_text(measured.target, row.unit),
                measured.verdict or NO_VALUE,
            ))
    return rows


def markdown_table(engines: list[EngineResult]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for engine in engines:
        for row in table_rows(engine):
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines)


def setup_markdown(engines: list[EngineResult]) -> str:
    """One line per engine: what ran, how the load authenticated, which settings were set."""
    lines = []
    for engine in engines:
        setup = engine.describe
        parts = [setup.get("server", f"gunicorn, {engine.workers} sync workers"),
                 f"load auth {setup.get('auth', engine.auth)}"]
        if setup.get("settings"):
            parts.append(f"settings {setup['settings']}")
        parts += [setup[k] for k in ("database", "cache") if setup.get(k)]
        lines.append(f"- {engine.name} ({engine.title}): " + "; ".join(parts))
    return "\n".join(lines)


# The peer column's sides, in the order of the side-by-side table (bench/scenarios/peer.py).
PEER_SIDES = (("drf", "drf-idempotency 1.0.0"), ("ours", "ours (Redis fast path where Redis)"),
              ("ours_db", "ours, database path"))
# Shown only when the run had them (--peer-baseline).
PEER_BASELINE_SIDES = (("base", "ours (baseline, Redis fast path where Redis)"),
                       ("base_db", "ours (baseline), database path"))
PEER_METRICS = (("fresh_ratio", "fresh key / no key throughput", ""),
                ("added_p50_ms", "added p50 at concurrency 1", "ms"),
                ("replay_ratio", "replay / fresh key throughput", ""),
                ("ours_over_theirs", "ours / theirs (fresh / no key)", ""),
                ("ours_over_baseline", "ours / baseline (fresh / no key)", ""))
PEER_SPECIAL = "peer_column"


def peer_cells(engine: EngineResult) -> dict[tuple[str, str], Any] | None:
    """The peer column's rows of `engine` by (side, metric), or None if it did not run."""
    special = engine.specials.get(PEER_SPECIAL)
    if special is None or special.error:
        return None
    return {(r.row.detail.get("side"), r.row.detail.get("metric")): r for r in special.rows}


def peer_markdown(engines: list[EngineResult]) -> str:
    """Ours and drf-idempotency side by side, one block per engine the peer column ran on."""
    blocks = []
    for engine in engines:
        cells = peer_cells(engine)
        if cells is None:
            continue
        aa = cells.get(("control", "aa"))
        head = f"{engine.name}: control A/A {fmt(aa.row.value)} ({aa.row.note})" if aa else engine.name
        ours = cells.get(("ours", "fresh_ratio"))
        if ours is not None and ours.row.detail.get("theirs_not_run"):
            head += "; " + ours.row.detail["theirs_not_run"]
        sides = PEER_SIDES + tuple(s for s in PEER_BASELINE_SIDES
                                   if (s[0], "fresh_ratio") in cells)
        metrics = [m for m in PEER_METRICS
                   if m[0] != "ours_over_baseline" or ("ours", m[0]) in cells]
        lines = [head, "", "| | " + " | ".join(title for _, title in sides) + " |",
                 "|---|" + "---|" * len(sides)]
        for metric, title, _unit in metrics:
            row = [title]
            for side, _ in sides:
                measured = cells.get((side, metric))
                if measured is None and (side, metric) == ("drf", "ours_over_theirs"):
                    row.append("1 (the reference)" if ("drf", "fresh_ratio") in cells else NO_VALUE)
                    continue
                if measured is None:
                    row.append("not run" if side == "drf" else NO_VALUE)
                    continue
                verdict = f" ({measured.verdict})" if measured.verdict else ""
                spread = measured.row.detail.get("rounds") or []
                low_high = (f" [{min(spread):.2f}–{max(spread):.2f}]" if spread else "")
                row.append(f"{fmt(measured.row.value, measured.row.unit)}{low_high}{verdict}")
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def results_document(engines: list[EngineResult], *, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": 1,
        **meta,
        "engines": [engine.as_dict() for engine in engines],
        "errors": [error for engine in engines for error in engine.errors],
        "setup_markdown": setup_markdown(engines),
        "table_markdown": markdown_table(engines),
        "peer_markdown": peer_markdown(engines),
    }


def without_nan(value: Any) -> Any:
    """Return `value` with every NaN (not valid JSON) replaced by None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: without_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nan(v) for v in value]
    return value


def write_json(document: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(without_nan(document), indent=2, allow_nan=False) + "\n")
