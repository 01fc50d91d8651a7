"""Run a plan on one engine: fresh database, gunicorn, one login, then every item.

Order on each engine: scenario setups, scenarios that run on their own,
comparisons (A B A B ... for `rounds` rounds), then special measures. Each
item is isolated: one that fails is recorded with its error and the others
still run. The gunicorn master and its workers are stopped by PID however
the run ends (error, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from bench.auth import authenticate
from bench.config import RunConfig
from bench.engines import Engine, provision
from bench.registry import Plan, Scenario, target_for
from bench.results import ComparisonResult, EngineResult, ScenarioResult, SpecialResult
from bench.server import GunicornServer
from bench.site import Site


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
    samples = await scenario.run(site, site.state.get(scenario.name),
                                 site.load(requests=site.config.requests))
    result.add(samples)


async def run_engine(engine: Engine, plan: Plan, *, config: RunConfig, run_id: str,
                     workdir: Path) -> EngineResult:
    test_hooks = plan.needs_test_hooks if config.test_hooks is None else config.test_hooks
    result = EngineResult(name=engine.name, title=engine.title, tags=engine.tags,
                          auth=config.auth, workers=config.workers, test_hooks=test_hooks)
    started = time.perf_counter()
    _log(f"[{engine.name}] preparing a fresh database")
    with provision(engine, config=config, workdir=workdir, run_id=run_id,
                   test_hooks=test_hooks) as provisioned:
        result.describe = provisioned.describe
        server = GunicornServer(env=provisioned.env, workers=config.workers,
                                log_path=workdir / "gunicorn.log")
        try:
            server.start()
            result.describe["server"] = (
                f"gunicorn {config.workers} sync workers, master pid {server.pid}"
            )
            _log(f"[{engine.name}] gunicorn up at {server.url} (pid {server.pid})")
            credentials = await authenticate(config.auth, server.url, provisioned.operator)
            site = Site(engine=engine, url=server.url, env=provisioned.env,
                        database=provisioned.database, operator=provisioned.operator,
                        credentials=credentials, config=config, workdir=workdir, run_id=run_id)
            await _run_plan(site, plan, result)
        except Exception as exc:
            result.errors.append(f"engine {engine.name}: {_brief_error(exc)}\n{server.log_tail(15)}")
            _log(f"[{engine.name}] FAILED: {_brief_error(exc)}")
        finally:
            server.stop()
    result.seconds = time.perf_counter() - started
    _log(f"[{engine.name}] done in {result.seconds:.0f} s")
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
        _log(f"[{engine}] {scenario.name}: {time.perf_counter() - item_started:.1f} s")

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
        _log(f"[{engine}] {comparison.name}: {time.perf_counter() - item_started:.1f} s")

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
        outcome.seconds = time.perf_counter() - item_started
        _log(f"[{engine}] {special.name}: {outcome.seconds:.1f} s")
