"""Settings of the gunicorn servers tests and the bench start: production plus test-only bits.

Started with `DJANGO_SETTINGS_MODULE=harness.live_settings`; nothing
here is reachable from the production settings. They refuse to load against
a database that is not a test or bench one (its name starts with `test` or
contains `bench`), and `manage.py check --deploy` fails under them
(taos.E007), so a test-only switch cannot be turned on in production.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from tinyagentos_site.env import env_bool, env_int, env_str
from tinyagentos_site.settings import *  # noqa: F403 (the production settings, then changes)
from tinyagentos_site.settings import DATABASES


def _is_test_database(name: str) -> bool:
    base = Path(str(name)).name.lower()
    return base.startswith("test") or "bench" in base


if not _is_test_database(DATABASES["default"]["NAME"]):
    raise ImproperlyConfigured(
        f"harness.live_settings is test-only and the database "
        f"{DATABASES['default']['NAME']!r} is not a test or bench database; "
        f"production uses DJANGO_SETTINGS_MODULE=tinyagentos_site.settings.")

# Racing test clients authenticate with HTTP Basic (a scripting opt-in in
# production, on here unless a test turns it off); the real hasher costs
# ~0.4 s of CPU a request and would spread "concurrent" requests apart.
# PBKDF2 stays second so that passwords made with production settings work.
PASSWORD_HASHERS = [
    # MD5, counting its calls when TAOS_TEST_HASHER_COUNT_FILE is set.
    "harness.counting_hasher.CountingMD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

TAOS_API_BASIC_AUTH = env_bool("TAOS_API_BASIC_AUTH", True)
# Racing clients send many Basic requests a second from one address: no
# per-address bound on password checks unless a test sets one.
TAOS_BASIC_AUTH_CHECKS_PER_SECOND = env_int("TAOS_BASIC_AUTH_CHECKS_PER_SECOND", 0)

# The production URLs, with POST /api/agents/ honouring X-Test-Delay.
ROOT_URLCONF = "harness.live_urls"

# Where a request slowed by X-Test-Delay writes its worker's PID, so that a
# test can kill that worker mid-request; empty: no PID file.
IDEMPOTENCY_TEST_PID_DIR = env_str("IDEMPOTENCY_TEST_PID_DIR", "")
