"""The cost of metrics: fresh-key creates with TAOS_METRICS on (the main site) and off.

The "off" side runs on a second gunicorn (same workers, same database) with
TAOS_METRICS=off: no middleware timing, no signal receivers, no files
written to the multiprocess directory.
"""

from __future__ import annotations

from bench.load import Load, Samples
from bench.registry import REGISTRY, Target
from bench.running_site import Site
from bench.scenarios.idempotency import AGENTS, create_keyed

METRICS_OFF = {"TAOS_METRICS": "off"}


async def _metrics_off_site(site: Site) -> Site:
    return await site.variant(METRICS_OFF)


@REGISTRY.scenario("create_keyed_metrics_off",
                   title=f"create: POST {AGENTS} with a fresh Idempotency-Key, TAOS_METRICS=off",
                   expect={201}, setup=_metrics_off_site)
async def create_keyed_metrics_off(site: Site, variant: Site, load: Load) -> Samples:
    return await create_keyed(variant, None, load)


REGISTRY.compare(
    "create_keyed_metrics_on_vs_off",
    title="idempotent create (fresh keys), metrics on vs off",
    a="create_keyed", b="create_keyed_metrics_off", target=Target(">=", 0.97),
    note="metrics on: the main gunicorn; off: a second gunicorn (4 workers) on the same "
         "database with TAOS_METRICS=off",
)
