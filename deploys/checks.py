"""System checks for the deploy settings (`manage.py check`, and every command)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from deploys.backends import BACKENDS, BackendNotConfigured, get_backend


@checks.register()
def check_deploy_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    try:
        get_backend()
    except BackendNotConfigured as exc:
        messages.append(checks.Error(
            str(exc), hint=f"DEPLOY_BACKEND is one of {sorted(BACKENDS)} or empty.",
            id="deploys.E001",
        ))
    if settings.DEPLOY_HEARTBEAT_SECONDS <= 0 or settings.DEPLOY_TIMEOUT_SECONDS <= 0:
        messages.append(checks.Error(
            "DEPLOY_HEARTBEAT_SECONDS and DEPLOY_TIMEOUT_SECONDS must be positive.",
            id="deploys.E002",
        ))
    elif settings.DEPLOY_STALE_SECONDS < 3 * settings.DEPLOY_HEARTBEAT_SECONDS:
        messages.append(checks.Error(
            "DEPLOY_STALE_SECONDS is less than three heartbeats "
            "(DEPLOY_HEARTBEAT_SECONDS): live deploys would be marked failed.",
            id="deploys.E003",
        ))
    return messages
