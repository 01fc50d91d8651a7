"""Run a plan on one engine: fresh database, gunicorn, one login, then every item.

Order on each engine: scenario setups, scenarios that run on their own,
comparisons (A B A B ... for `rounds` rounds), then special measures; items
that do not apply on the engine (`when`) are left out. Each
item is isolated: one that fails is recorded with its error and the others
still run. The gunicorn master and its workers are stopped by PID however
the run ends (error, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

from bench.config import RunConfig
from bench.engines import Engine
from bench.measurements import ComparisonResult, EngineResult, ScenarioResult, SpecialResult
from bench.registry import Plan, Scenario, target_for
from bench.running_site import Site, open_site


def _log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _brief_error(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()[-1500:]


async def _warm_up(site: Site, scenario: Scenario) -> None:
    """Run unrecorded requests, so that round 1 does not pay first-request costs."""
    if site.config.warmup <= 0:
        return
    await scenario.run(site, site.state.get(scenario.name), site.load(requests=site.config.warmup))


async def _run_round(site: Site, result: ScenarioResult) -> None:
    scenario = result.scenario
    cpu_before = site.cpu_seconds()
    samples = await scenario.run(site, site.state.get(scenario.name),
                                 site.load(requests=site.config.requests))
    result.add(samples, server_cpu_seconds=site.cpu_seconds() - cpu_before)


async def run_engine(engine: Engine, plan: Plan, *, config: RunConfig, run_id: str,
                     workdir: Path) -> EngineResult:
    # Items that need the test-only delay header start a variant server with
    # the test-only settings themselves; the main server runs without, unless asked.
    live_settings = bool(config.live_settings)
    plan = plan.for_engine(engine.tags)
    result = EngineResult(name=engine.name, title=engine.title, tags=engine.tags,
                          auth=config.auth, workers=config.workers, live_settings=live_settings)
    started = time.perf_counter()
    result.load_average["start"] = [round(x, 2) for x in os.getloadavg()]
    _log(f"[{engine.name}] preparing a fresh database")
    try:
        async with open_site(engine, config=config, workdir=workdir, run_id=run_id,
                             live_settings=live_settings) as site:
            result.describe = site.describe
            _log(f"[{engine.name}] gunicorn up at {site.url} (pid {site.server.pid})")
            try:
                await _run_plan(site, plan, result)
            except Exception as exc:
                raise RuntimeError(f"{_brief_error(exc)}\n{site.server.log_tail(15)}") from exc
    except Exception as exc:
        result.errors.append(f"engine {engine.name}: {_brief_error(exc)}")
        _log(f"[{engine.name}] FAILED: {_brief_error(exc)}")
    result.seconds = time.perf_counter() - started
    result.load_average["end"] = [round(x, 2) for x in os.getloadavg()]
    _log(f"[{engine.name}] done in {result.seconds:.0f} s "
         f"(load average {result.load_average['start'][0]} -> {result.load_average['end'][0]})")
    return result


async def _run_plan(site: Site, plan: Plan, result: EngineResult) -> None:
    engine = site.engine.name
    broken: set[str] = set()
    for scenario in plan.scenarios:
        result.scenarios[scenario.name] = ScenarioResult(scenario)
        if scenario.setup is None:
            continue
        try:
            site.state[scenario.name] = await scenario.setup(site)
        except Exception as exc:
            broken.add(scenario.name)
            result.errors.append(f"setup of {scenario.name}: {_brief_error(exc)}")

    for scenario in plan.singles:
        if scenario.name in broken:
            continue
        item_started = time.perf_counter()
        try:
            await _warm_up(site, scenario)
            for _ in range(site.config.rounds):
                await _run_round(site, result.scenarios[scenario.name])
        except Exception as exc:
            result.errors.append(f"scenario {scenario.name}: {_brief_error(exc)}")
        result.timings[scenario.name] = time.perf_counter() - item_started
        _log(f"[{engine}] {scenario.name}: {result.timings[scenario.name]:.1f} s")

    for comparison in plan.comparisons:
        compared = ComparisonResult(comparison, target_for(comparison.target, site.engine.tags))
        result.comparisons[comparison.name] = compared
        if {comparison.a, comparison.b} & broken:
            result.errors.append(f"comparison {comparison.name}: a scenario's setup failed")
            continue
        item_started = time.perf_counter()
        a, b = result.scenarios[comparison.a], result.scenarios[comparison.b]
        try:
            await _warm_up(site, a.scenario)
            await _warm_up(site, b.scenario)
            for _ in range(site.config.rounds):
                await _run_round(site, a)
                await _run_round(site, b)
                compared.add_round(a.rounds[-1], b.rounds[-1])
        except Exception as exc:
            result.errors.append(f"comparison {comparison.name}: {_brief_error(exc)}")
        result.timings[comparison.name] = time.perf_counter() - item_started
        _log(f"[{engine}] {comparison.name}: {result.timings[comparison.name]:.1f} s")

    for special in plan.specials:
        title = special.title.replace("{big_rows}", f"{site.config.big_rows:,}")
        outcome = SpecialResult(name=special.name, title=title)
        result.specials[special.name] = outcome
        item_started = time.perf_counter()
        try:
            rows = await special.run(site)
            outcome.rows = [result.measure_results(row) for row in rows]
        except Exception as exc:
            outcome.error = _brief_error(exc)
            result.errors.append(f"special {special.name}: {outcome.error}")
        outcome.seconds = result.timings[special.name] = time.perf_counter() - item_started
        _log(f"[{engine}] {special.name}: {outcome.seconds:.1f} s")
