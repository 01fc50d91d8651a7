"""Test-only behaviour, active only with settings.TAOS_TEST_HOOKS (live test servers)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest

from idempotency.conf import setting

DELAY_HEADER = "HTTP_X_TEST_DELAY"
MAX_DELAY_SECONDS = 60.0


def pid_file_name(key: str) -> str:
    return f"idempotency-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pid"


def delay_holding_reservation(request: HttpRequest, *, key: str) -> None:
    """Sleep `X-Test-Delay` seconds while holding the reservation of `key`.

    With IDEMPOTENCY_TEST_PID_DIR set, first write this worker's PID there
    (see `pid_file_name`), so that a test can kill the worker mid-request.
    """
    if not getattr(settings, "TAOS_TEST_HOOKS", False) or not request.META.get(DELAY_HEADER):
        return
    try:
        seconds = min(float(request.META[DELAY_HEADER]), MAX_DELAY_SECONDS)
    except ValueError:
        return
    pid_dir = setting("IDEMPOTENCY_TEST_PID_DIR")
    if pid_dir:
        path = Path(pid_dir, pid_file_name(key))
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(str(os.getpid()))
        tmp.replace(path)
    time.sleep(max(0.0, seconds))
