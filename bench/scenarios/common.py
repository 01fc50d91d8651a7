"""What several scenario modules share: paths, agent creation, worst-of-rounds rows."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from bench.registry import MeasureRow, Target
from bench.running_site import Site

AGENTS = "/api/agents/"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY = "Idempotency-Key"
# Bounds a load that a stop event ends, in case the thing it waits for hangs.
BACKGROUND_LOAD_MAX_SECONDS = 900.0


async def create_agent(site: Site, prefix: str) -> str:
    """Create an agent through the API; return its slug."""
    async with site.client() as client:
        response = await client.post(AGENTS, json={"display_name": site.unique_name(prefix)})
    if response.status_code != 201:
        raise RuntimeError(f"creating an agent answered {response.status_code}: {response.text[:300]}")
    return response.json()["name"]


def worst(values: Sequence[float], target: Target) -> float:
    """Return the value of `values` that is furthest on the wrong side of `target`.

    For a count that must hold in every round (`== 1`, `== 64`): the worst
    round decides, so one bad round shows as a miss.
    """
    if target.op == "==":
        return max(values, key=lambda v: abs(v - target.value))
    return min(values) if target.op == ">=" else max(values)


def every_round_row(measure: str, values: Sequence[int], target: Target, *,
                    note: str = "") -> MeasureRow:
    """A row for a count that must meet `target` in every round: its worst round."""
    counts = sorted(set(values))
    shown = ", ".join(str(v) for v in counts)
    rounds_note = (f"{len(values)} rounds, all {shown}" if len(counts) == 1
                   else f"{len(values)} rounds: values {shown}")
    return MeasureRow(f"{measure} (worst of {len(values)} rounds)",
                      worst(values, target), target=target,
                      note="; ".join(p for p in (rounds_note, note) if p),
                      detail={"rounds": list(values)})


def median_row(measure: str, values: Sequence[float], unit: str, target: Target | None, *,
               note: str = "") -> MeasureRow:
    """A row for a measure reported as the median of its rounds, with their min–max."""
    median = float(statistics.median(values))
    spread = f"min–max {min(values):.3g}–{max(values):.3g} {unit} over {len(values)} rounds"
    return MeasureRow(f"{measure} (median of {len(values)} rounds)", median, unit,
                      target=target, note="; ".join(p for p in (spread, note) if p),
                      detail={"rounds": [round(v, 6) for v in values]})
