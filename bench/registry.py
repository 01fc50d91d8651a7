"""What the bench can run: scenarios, comparisons of two scenarios, and special measures.

- A *scenario* is a named async callable that drives one kind of request
  and returns its per-request latencies and statuses (`bench.load.Samples`)
  for a fixed request count or duration.
- A *comparison* runs two scenarios alternately (A B A B ...) for the same
  number of rounds in one run and reports the median of the per-round
  ratios with their spread, against a target.
- A *special* measures something that is not a ratio ("64 concurrent
  requests: agents made, identical 201s, slowest answer") and returns rows
  of named values, each with its own target.

Register with the decorators below (see bench/scenarios/); the bench runs
every default item in registration order, or those named by `--only`.
An item may apply only on engines with a tag (`when="redis"`), and a
reference item (`default=False`) runs only when named by `--only` or with
`--all`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from bench.load import Load, Samples
    from bench.running_site import Site

# A comparison's verdict needs at least this many rounds of each side.
MIN_ROUNDS_FOR_VERDICT = 8

_OPERATORS = {">=": operator.ge, "<=": operator.le, "==": operator.eq}

Verdict = Literal["pass", "miss", "n/a", "error", "too few rounds"]


@dataclass(frozen=True)
class Target:
    """A bound a measured value must meet, e.g. `Target(">=", 0.9)`."""

    op: Literal[">=", "<=", "=="]
    value: float
    unit: str = ""

    def met_by(self, measured: float) -> bool | None:
        """Return whether `measured` meets the target; None if it is not a number."""
        if isinstance(measured, float) and math.isnan(measured):
            return None
        return bool(_OPERATORS[self.op](measured, self.value))

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.op} {self.value:g}{unit}"

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "value": self.value, "unit": self.unit}


# One target for every engine, or one per engine name or tag
# ("postgresql", "sqlite", "redis", "database"), or none (a reference row).
TargetSpec = Target | Mapping[str, Target] | None


def target_for(spec: TargetSpec, tags: Collection[str]) -> Target | None:
    """Return the target that applies on an engine with `tags` (its name first)."""
    if spec is None or isinstance(spec, Target):
        return spec
    for tag in tags:
        if tag in spec:
            return spec[tag]
    return spec.get("default")


def verdict_for(target: Target | None, measured: float) -> Verdict | None:
    if target is None:
        return None
    met = target.met_by(measured)
    if met is None:
        return "n/a"
    return "pass" if met else "miss"


@dataclass
class MeasureRow:
    """One named value a special measure reports, with its own target."""

    measure: str
    value: float | int
    unit: str = ""
    target: TargetSpec = None
    note: str = ""                # shown beside the value (cross-checks, counts)
    detail: dict[str, Any] = field(default_factory=dict)  # JSON only


ScenarioRun = Callable[["Site", Any, "Load"], Awaitable["Samples"]]
ScenarioSetup = Callable[["Site"], Awaitable[Any]]
SpecialRun = Callable[["Site"], Awaitable[list[MeasureRow]]]


@dataclass(frozen=True, kw_only=True)
class _Item:
    """What every registered item has: its name, its title, where and when it runs."""

    name: str
    title: str
    when: str | None = None       # an engine tag the item needs ("redis"), or None: every engine
    default: bool = True          # False: a reference item, run only by --all or --only

    def applies_to(self, tags: Collection[str]) -> bool:
        """Whether this item runs on an engine with `tags`."""
        return self.when is None or self.when in tags


@dataclass(frozen=True, kw_only=True)
class Scenario(_Item):
    run: ScenarioRun
    expect: frozenset[int]
    setup: ScenarioSetup | None = None


@dataclass(frozen=True, kw_only=True)
class Comparison(_Item):
    a: str
    b: str
    metric: Literal["throughput", "p50"]
    target: TargetSpec = None
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Special(_Item):
    run: SpecialRun


@dataclass
class Registry:
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    specials: dict[str, Special] = field(default_factory=dict)

    def _check_free(self, name: str) -> None:
        if name in self.scenarios or name in self.comparisons or name in self.specials:
            raise ValueError(f"a benchmark item named {name!r} is registered already")

    def scenario(
        self, name: str, *, title: str, expect: Collection[int],
        setup: ScenarioSetup | None = None, when: str | None = None, default: bool = True,
    ) -> Callable[[ScenarioRun], ScenarioRun]:
        """Register the decorated `async def run(site, state, load) -> Samples`."""
        def register(run: ScenarioRun) -> ScenarioRun:
            self._check_free(name)
            self.scenarios[name] = Scenario(
                name=name, title=title, run=run, expect=frozenset(expect), setup=setup,
                when=when, default=default,
            )
            return run
        return register

    def compare(
        self, name: str, *, title: str, a: str, b: str,
        metric: Literal["throughput", "p50"] = "throughput", target: TargetSpec = None,
        note: str = "", when: str | None = None, default: bool = True,
    ) -> Comparison:
        """Register the comparison of scenarios `a` and `b` (ratio = a / b)."""
        self._check_free(name)
        for side in (a, b):
            if side not in self.scenarios:
                raise ValueError(f"comparison {name!r}: no scenario named {side!r}")
        comparison = Comparison(name=name, title=title, a=a, b=b, metric=metric,
                                target=target, note=note, when=when, default=default)
        self.comparisons[name] = comparison
        return comparison

    def special(
        self, name: str, *, title: str, when: str | None = None, default: bool = True,
    ) -> Callable[[SpecialRun], SpecialRun]:
        """Register the decorated `async def run(site) -> list[MeasureRow]`."""
        def register(run: SpecialRun) -> SpecialRun:
            self._check_free(name)
            self.specials[name] = Special(name=name, title=title, run=run, when=when,
                                          default=default)
            return run
        return register

    def names(self) -> list[str]:
        return [*self.scenarios, *self.comparisons, *self.specials]

    def item(self, name: str) -> Scenario | Comparison | Special:
        return self.scenarios.get(name) or self.comparisons.get(name) or self.specials[name]

    def select(self, only: Collection[str] | None, *, everything: bool = False) -> Plan:
        """Return what to run: the default items (all with `everything`), or the named ones.

        A chosen comparison brings its two scenarios.
        """
        if only:
            unknown = sorted(set(only) - set(self.names()))
            if unknown:
                raise ValueError(
                    f"unknown benchmark item(s): {', '.join(unknown)}; "
                    f"known: {', '.join(self.names())}"
                )
        if only:
            chosen = set(only)
        else:
            chosen = {name for name in self.names() if everything or self.item(name).default}
        comparisons = [c for name, c in self.comparisons.items() if name in chosen]
        compared = {side for c in comparisons for side in (c.a, c.b)}
        # A scenario in a chosen comparison gets its numbers from that
        # comparison's rounds; the others run on their own.
        singles = [s for name, s in self.scenarios.items() if name in chosen and name not in compared]
        specials = [s for name, s in self.specials.items() if name in chosen]
        scenarios = [s for name, s in self.scenarios.items() if name in chosen or name in compared]
        return Plan(scenarios=scenarios, singles=singles, comparisons=comparisons,
                    specials=specials)


@dataclass(frozen=True)
class Plan:
    scenarios: list[Scenario]
    singles: list[Scenario]
    comparisons: list[Comparison]
    specials: list[Special]

    def for_engine(self, tags: Collection[str]) -> Plan:
        """Return the part of this plan that applies on an engine with `tags`."""
        def keep(items: list[Any]) -> list[Any]:
            return [item for item in items if item.applies_to(tags)]
        return Plan(scenarios=keep(self.scenarios), singles=keep(self.singles),
                    comparisons=keep(self.comparisons), specials=keep(self.specials))


REGISTRY = Registry()
