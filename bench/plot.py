"""The PNG: throughput and p50/p95/p99 latency per scenario, one column per engine.

When the peer column ran, a third row shows it: fresh key / no key
throughput of drf-idempotency and of ours side by side (median round,
min–max), the control's A/A band, and each side's added p50 at concurrency 1.
"""

from __future__ import annotations

from pathlib import Path

from bench.measurements import EngineResult
from bench.table import PEER_SIDES, peer_cells


def write_plot(engines: list[EngineResult], path: Path) -> bool:
    """Write the plot to `path`; return False if no scenario has a round to plot."""
    shown = [e for e in engines
             if any(s.rounds for s in e.scenarios.values()) or peer_cells(e) is not None]
    if not shown:
        return False
    peer = any(peer_cells(e) is not None for e in shown)
    import matplotlib

    matplotlib.use("Agg")  # no display: write files only
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(3 if peer else 2, len(shown),
                                figsize=(6.5 * len(shown), 12.5 if peer else 8.5), squeeze=False,
                               sharey="row")  # one scale per row: engines compare at a glance
    for column, engine in enumerate(shown):
        scenarios = [s for s in engine.scenarios.values() if s.rounds]
        names = [s.scenario.name for s in scenarios]
        positions = list(range(len(scenarios)))

        top = axes[0][column]
        medians = [s.throughput.median for s in scenarios]
        low = [s.throughput.median - s.throughput.min for s in scenarios]
        high = [s.throughput.max - s.throughput.median for s in scenarios]
        top.bar(positions, medians, yerr=[low, high], capsize=4, color="#4c72b0")
        top.set_title(f"{engine.title}: throughput (median round, min–max)")
        top.set_ylabel("requests / s")
        top.set_xticks(positions, names, rotation=20, ha="right")
        top.grid(axis="y", alpha=0.3)

        bottom = axes[1][column]
        width = 0.27
        for offset, (q, colour) in enumerate(((50, "#55a868"), (95, "#dd8452"), (99, "#c44e52"))):
            bottom.bar([p + (offset - 1) * width for p in positions],
                       [s.latency_ms(q) for s in scenarios], width, label=f"p{q}", color=colour)
        bottom.set_title(f"{engine.title}: latency")
        bottom.set_ylabel("ms")
        bottom.set_xticks(positions, names, rotation=20, ha="right")
        bottom.legend(loc="upper left", fontsize="small")
        bottom.grid(axis="y", alpha=0.3)
        if peer:
            _plot_peer(axes[2][column], engine)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def _plot_peer(axis, engine: EngineResult) -> None:
    cells = peer_cells(engine)
    axis.set_title(f"{engine.title}: peer column, fresh key / no key")
    if cells is None:
        axis.set_axis_off()
        return
    aa = cells.get(("control", "aa"))
    if aa is not None and aa.row.detail.get("rounds"):
        rounds = aa.row.detail["rounds"]
        axis.axhspan(min(rounds), max(rounds), color="#bbbbbb", alpha=0.4,
                     label="control A/A min–max")
    names, medians, low, high, labels = [], [], [], [], []
    for side, title in PEER_SIDES:
        measured = cells.get((side, "fresh_ratio"))
        if measured is None:
            continue
        rounds = measured.row.detail.get("rounds") or [measured.row.value]
        names.append(title)
        medians.append(measured.row.value)
        low.append(measured.row.value - min(rounds))
        high.append(max(rounds) - measured.row.value)
        added = cells.get((side, "added_p50_ms"))
        labels.append(f"+{added.row.value:.2f} ms p50" if added is not None else "")
    positions = list(range(len(names)))
    colours = ["#dd8452" if n.startswith("drf") else "#4c72b0" for n in names]
    axis.bar(positions, medians, yerr=[low, high], capsize=4, color=colours)
    for position, median, label in zip(positions, medians, labels):
        axis.annotate(label, (position, median), textcoords="offset points", xytext=(0, 12),
                      ha="center", fontsize="small")
    axis.axhline(0.9, color="#c44e52", linestyle="--", linewidth=1, label="target 0.90")
    axis.set_ylim(0, 1.3)
    axis.set_ylabel("throughput ratio")
    axis.set_xticks(positions, names, rotation=10, ha="right")
    axis.legend(loc="upper right", fontsize="small")
    axis.grid(axis="y", alpha=0.3)
