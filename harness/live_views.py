"""Test-only views of live servers: the real views, slowed by `X-Test-Delay` inside the view."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from django.conf import settings
from rest_framework.request import Request

from agents.serializers import AgentSerializer
from agents.views import AgentViewSet
from idempotency.keys import META_KEY, parse_key

DELAY_HEADER = "HTTP_X_TEST_DELAY"
MAX_DELAY_SECONDS = 60.0


def pid_file_name(key: str) -> str:
    """Return the name of the PID file a request with Idempotency-Key `key` writes."""
    return f"idempotency-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pid"


def wait_for_pid(pid_dir: Path, key: str, timeout: float = 20) -> int:
    """Wait until the request with Idempotency-Key `key` wrote its PID file; return the PID."""
    path = pid_dir / pid_file_name(key)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return int(path.read_text())
        time.sleep(0.02)
    raise AssertionError("the delayed request never reached the view")


def delay(request: Request) -> None:
    """Sleep `X-Test-Delay` seconds (at most 60); first write this worker's PID file.

    Called inside an idempotent view, so the request holds its key's
    reservation while it sleeps. With settings.IDEMPOTENCY_TEST_PID_DIR set,
    the PID goes to the file `pid_file_name(key)` there, so that a test can
    kill the worker mid-request.
    """
    try:
        seconds = min(float(request.META.get(DELAY_HEADER, "")), MAX_DELAY_SECONDS)
    except ValueError:
        return
    pid_dir = getattr(settings, "IDEMPOTENCY_TEST_PID_DIR", "")
    if pid_dir and META_KEY in request.META:
        path = Path(pid_dir, pid_file_name(parse_key(request.META[META_KEY])))
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(str(os.getpid()))
        tmp.replace(path)  # atomic: a test never reads a half-written PID
    time.sleep(max(0.0, seconds))


class DelayedAgentViewSet(AgentViewSet):
    """AgentViewSet whose create sleeps `X-Test-Delay` seconds holding its reservation."""

    def perform_create(self, serializer: AgentSerializer) -> None:
        delay(self.request)
        super().perform_create(serializer)
