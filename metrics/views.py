"""`GET /metrics`: the Prometheus text format, for a permitted token or an allowed address.

Allowed: a caller whose address (access/client_address.py, through trusted
proxies only) is in TAOS_METRICS_ALLOW, or an authenticated user (an operator
token, a session) with `metrics.view_metrics`. Anyone else: 401 without
credentials, 403 with them (problem+json). Never open by default: the
allow-list is empty and nobody holds the permission until given it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from access.client_address import client_address, parse_networks
from access.permission_map import Act
from access.permissions import ActionPermissions
from metrics.collectors import DeployCollector


@lru_cache(maxsize=8)
def _allowed(entries: tuple[str, ...]) -> tuple[Any, ...]:
    return parse_networks(entries)


def address_allowed(request: Any) -> bool:
    networks = _allowed(tuple(settings.TAOS_METRICS_ALLOW))
    if not networks:
        return False
    address = client_address(request)
    if not address:
        return False
    parsed = ipaddress.ip_address(address)
    return any(parsed in network for network in networks)


class MayScrape(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return address_allowed(request) or ActionPermissions().has_permission(request, view)


class _ThisProcess(Collector):
    """The metrics of this process alone (no PROMETHEUS_MULTIPROC_DIR: runserver, tests)."""

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    """Every process's metrics (multiprocess mode) or this one's, and the deploys' from the database."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DeployCollector())
    return registry


class MetricsView(APIView):
    permission_classes = [MayScrape]
    permission_actions = {"GET": Act.METRICS_VIEW}
    schema = None  # not part of the API's schema

    def get(self, request: Request) -> HttpResponse:
        if not settings.TAOS_METRICS:
            raise NotFound()
        return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
