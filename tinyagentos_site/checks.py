"""System checks for the site's wiring: a wrong value stops `manage.py check` and the start.

Each message names the environment variable to fix. The apps check their own
settings (access, tokens, deploys, idempotency).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

SUPPORTED_ENGINES = {"django.db.backends.postgresql", "django.db.backends.sqlite3",
                     "django.db.backends.mysql"}
PRODUCTION_URLCONF = "tinyagentos_site.urls"


def _positive(name: str, value: Any, *, env: str, minimum: int = 1,
              maximum: int | None = None) -> list[checks.CheckMessage]:
    if isinstance(value, int) and value >= minimum and (maximum is None or value <= maximum):
        return []
    bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    return [checks.Error(f"{env} must be an integer {bounds}, got {value!r}.",
                         id="taos.E002", obj=name)]


@checks.register()
def check_site_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    messages = _positive("DATA_UPLOAD_MAX_MEMORY_SIZE", settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
                         env="TAOS_MAX_BODY_BYTES")
    messages += _positive("SECURE_HSTS_SECONDS", settings.SECURE_HSTS_SECONDS,
                          env="SECURE_HSTS_SECONDS", minimum=0)
    return messages + _database_checks()


def _database_checks() -> list[checks.CheckMessage]:
    database = settings.DATABASES["default"]
    messages = []
    if database.get("ENGINE") not in SUPPORTED_ENGINES:
        messages.append(checks.Error(
            f"DATABASE_URL names an unsupported engine ({database.get('ENGINE')}).",
            hint="Use postgres://, mysql:// (MariaDB) or leave it unset (SQLite).",
            id="taos.E004"))
    if not database.get("NAME"):
        messages.append(checks.Error("DATABASE_URL names no database.",
                                     hint="postgres://user:password@host:5432/NAME",
                                     id="taos.E004"))
    conn_max_age = database.get("CONN_MAX_AGE")
    if conn_max_age is not None and (not isinstance(conn_max_age, int) or conn_max_age < 0):
        messages.append(checks.Error(f"DB_CONN_MAX_AGE must be >= 0, got {conn_max_age!r}.",
                                     id="taos.E004"))
    timeout = database.get("OPTIONS", {}).get("timeout")
    if database.get("ENGINE") == "django.db.backends.sqlite3" and timeout is not None \
            and (not isinstance(timeout, int) or timeout <= 0):
        messages.append(checks.Error(
            f"TAOS_SQLITE_BUSY_TIMEOUT must be a positive number of seconds, got {timeout!r}.",
            id="taos.E004"))
    return messages


@checks.register(checks.Tags.security, deploy=True)
def check_no_test_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Nothing test-only runs in production: the settings and URLs are the site's own."""
    messages = []
    module = getattr(settings, "SETTINGS_MODULE", "") or ""
    if module.startswith("tests."):
        messages.append(checks.Error(
            f"DJANGO_SETTINGS_MODULE is the test-only {module}.",
            hint="Use tinyagentos_site.settings.", id="taos.E007"))
    if settings.ROOT_URLCONF != PRODUCTION_URLCONF:
        messages.append(checks.Error(
            f"ROOT_URLCONF is {settings.ROOT_URLCONF}, not {PRODUCTION_URLCONF}.",
            id="taos.E007"))
    return messages


@checks.register(checks.Tags.security, deploy=True)
def check_production_site_settings(app_configs: Any = None,
                                   **kwargs: Any) -> list[checks.CheckMessage]:
    """With DATABASE_URL (production): DEBUG off, and ALLOWED_HOSTS names the hosts."""
    if not settings.DATABASE_URL:
        return []
    messages = []
    if settings.DEBUG:
        messages.append(checks.Error(
            "DEBUG is on in production: error pages show the code, the request and the "
            "settings to anyone.", hint="Unset DEBUG (or set DEBUG=0).",
            id="taos.E021", obj="DEBUG"))
    if "*" in settings.ALLOWED_HOSTS:
        messages.append(checks.Error(
            "ALLOWED_HOSTS is '*': any Host header is served, and links and redirects "
            "are built from it.", hint="List the site's host names, e.g. taos.example.org.",
            id="taos.E021", obj="ALLOWED_HOSTS"))
    return messages
