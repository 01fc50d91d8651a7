"""docs/operations.md and docs/grafana-dashboard.json name only metrics a real scrape has.

The scrape is of this process's /metrics (every family shows, with or without
samples); the live tests scrape gunicorn's sum of workers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from tests.support.http_auth import operator_bearer

DOCS = Path(__file__).resolve().parents[2] / "docs"
METRIC_NAME = re.compile(r"\btaos_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


@pytest.fixture
def scraped(make_user) -> dict[str, str]:
    """The `taos_` families of a real scrape: family name -> type."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=operator_bearer(
        make_user("prometheus", perms=("metrics.view_metrics",))))
    response = client.get("/metrics")
    assert response.status_code == 200
    return {family.name: family.type
            for family in text_string_to_metric_families(response.content.decode())
            if family.name.startswith("taos_")}


def sample_names(families: dict[str, str]) -> set[str]:
    return {name + suffix for name, kind in families.items() for suffix in SUFFIXES[kind]}


def dashboard_queries() -> list[str]:
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(queries) == len(dashboard["panels"]) >= 10
    return queries


def alert_queries() -> list[str]:
    text = (DOCS / "operations.md").read_text()
    [rules] = re.findall(r"```yaml\n(groups:.*?)```", text, re.S)
    return re.findall(r"^\s+expr: (.+)$", rules, re.M)


def documented_metrics() -> set[str]:
    text = (DOCS / "operations.md").read_text()
    table = text.split("## Metrics", 1)[1].split("\n\n`taos_deploys`", 1)[0]
    return set(re.findall(r"^\| `(taos_[a-z0-9_]+)` \|", table, re.M))


def test_every_metric_the_dashboard_queries_exists_in_a_scrape(scraped):
    known = sample_names(scraped)
    for query in dashboard_queries():
        used = set(METRIC_NAME.findall(query))
        assert used, query
        assert used <= known, (query, used - known)


def test_five_alert_rules_name_only_metrics_of_a_scrape(scraped):
    queries = alert_queries()
    assert len(queries) == 5
    known = sample_names(scraped)
    for query in queries:
        used = set(METRIC_NAME.findall(query))
        assert used and used <= known, (query, used - known)


def test_the_metrics_table_lists_every_metric_a_scrape_has(scraped):
    # The table names counters as they are scraped (with _total).
    as_scraped = {name + ("_total" if kind == "counter" else "") for name, kind in scraped.items()}
    assert documented_metrics() == as_scraped
