"""What a scrape reads from the database: deploys by state and backend, the queue's depth.

Read at each scrape (two SELECTs, nothing written), so every host reports
the same numbers: a query over `sum by` would count them once per host; use
`max` (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from deploys.models import DeployTask


class DeployCollector(Collector):
    def describe(self) -> list[Metric]:
        return []  # read at scrape only, never at registration

    def collect(self) -> Iterator[Metric]:
        by_state = GaugeMetricFamily(
            "taos_deploys", "Deploy tasks by state and backend (the database, read at scrape)",
            labels=["state", "backend"])
        queued = 0
        rows = (DeployTask.objects.order_by().values_list("state", "backend")
                .annotate(n=Count("pk")))
        for state, backend, count in rows:
            by_state.add_metric([state, backend or "none"], count)
            if state == DeployTask.State.QUEUED:
                queued += count
        yield by_state
        yield GaugeMetricFamily(
            "taos_deploy_queue_depth",
            "Deploy tasks queued and not yet claimed by a job (the database, read at scrape)",
            value=queued)
