"""The PNG: throughput and p50/p95/p99 latency per scenario, one column per engine."""

from __future__ import annotations

from pathlib import Path

from bench.measurements import EngineResult


def write_plot(engines: list[EngineResult], path: Path) -> bool:
    """Write the plot to `path`; return False if no scenario has a round to plot."""
    shown = [e for e in engines if any(s.rounds for s in e.scenarios.values())]
    if not shown:
        return False
    import matplotlib

    matplotlib.use("Agg")  # no display: write files only
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, len(shown), figsize=(6.5 * len(shown), 8.5), squeeze=False,
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
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
