"""A TAOS_METRICS_ALLOW entry that is not an address or network stops the site at start."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from access.client_address import parse_networks


def check_metrics_allow(**kwargs: Any) -> list[checks.CheckMessage]:
    try:
        parse_networks(settings.TAOS_METRICS_ALLOW)
    except ValueError as exc:
        return [checks.Error(f"TAOS_METRICS_ALLOW: {exc}.", id="metrics.E001")]
    return []
