"""Settings of the gunicorn servers tests and the bench start: production plus test-only bits.

Started with `DJANGO_SETTINGS_MODULE=tests.support.live_settings`; nothing
here is reachable from the production settings.
"""

from __future__ import annotations

from tinyagentos_site.env import env_str
from tinyagentos_site.settings import *  # noqa: F403 (the production settings, then changes)

# Racing test clients authenticate with HTTP Basic; the real hasher costs
# ~0.4 s of CPU a request and would spread "concurrent" requests apart.
# PBKDF2 stays second so that passwords made with production settings work.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

# The production URLs, with POST /api/agents/ honouring X-Test-Delay.
ROOT_URLCONF = "tests.support.live_urls"

# Where a request slowed by X-Test-Delay writes its worker's PID, so that a
# test can kill that worker mid-request; empty: no PID file.
IDEMPOTENCY_TEST_PID_DIR = env_str("IDEMPOTENCY_TEST_PID_DIR", "")
