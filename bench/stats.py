"""Percentiles and spreads of benchmark samples, with no third-party dependency."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """Return the `q`-th percentile (0..100) of `values`, linearly interpolated.

    This is the "linear" (type 7) method of numpy and R's default, so the
    numbers can be checked with either.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    fraction = rank - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


@dataclass(frozen=True)
class Spread:
    """The median of per-round values and how far the rounds spread around it."""

    median: float
    min: float
    max: float
    q1: float
    q3: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            return cls(math.nan, math.nan, math.nan, math.nan, math.nan, 0)
        return cls(
            median=float(statistics.median(values)),
            min=float(min(values)),
            max=float(max(values)),
            q1=percentile(values, 25),
            q3=percentile(values, 75),
            n=len(values),
        )

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def ratio(a: float, b: float) -> float:
    """Return a / b, or NaN when b is zero or either is not a number."""
    if b == 0 or math.isnan(a) or math.isnan(b):
        return math.nan
    return a / b
