"""System checks for the site's settings: a wrong value stops `manage.py check` and the start.

Settings that are parsed when a request needs them (rates, proxy networks,
URLs) would otherwise pass every check and then fail every request. Each
message names the environment variable to fix. The apps check their own
settings (tokens, deploys, idempotency).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from tinyagentos_site.client_address import parse_networks
from tinyagentos_site.throttling import parse_rate

# What a secret shared by every host must at least be, in production.
SECRET_MIN_LENGTH = 50
SECRET_MIN_DISTINCT = 10
REDIS_SCHEMES = {"redis", "rediss", "unix"}
SUPPORTED_ENGINES = {"django.db.backends.postgresql", "django.db.backends.sqlite3",
                     "django.db.backends.mysql"}
PRODUCTION_URLCONF = "tinyagentos_site.urls"
MAX_FAILURE_LIMIT = 1000


def weak_secret(value: str, *, min_length: int) -> str | None:
    """Say why `value` is too weak to be a shared production secret, or None."""
    if len(value) < min_length:
        return f"it has {len(value)} characters, fewer than {min_length}"
    if len(set(value)) < SECRET_MIN_DISTINCT:
        return f"it has fewer than {SECRET_MIN_DISTINCT} distinct characters"
    if value.startswith("django-insecure-"):
        return "it is a development key (django-insecure-...)"
    return None


def _positive(name: str, value: Any, *, env: str, minimum: int = 1,
              maximum: int | None = None) -> list[checks.CheckMessage]:
    if isinstance(value, int) and value >= minimum and (maximum is None or value <= maximum):
        return []
    bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    return [checks.Error(f"{env} must be an integer {bounds}, got {value!r}.",
                         id="taos.E002", obj=name)]


@checks.register()
def check_parsed_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    for name in ("TAOS_THROTTLE_USER", "TAOS_THROTTLE_ANON"):
        try:
            parse_rate(getattr(settings, name))
        except ValueError as exc:
            messages.append(checks.Error(
                f"{name}: {exc}.", hint="A rate is COUNT/PERIOD (s, min, h, day), or off.",
                id="taos.E001"))
    for name in ("TAOS_AUTH_FAILURE_LIMIT", "TAOS_AUTH_USER_FAILURE_LIMIT"):
        # Each counted slot is a cache key a password check reads.
        messages += _positive(name, getattr(settings, name), env=name,
                              maximum=MAX_FAILURE_LIMIT)
    messages += _positive("TAOS_AUTH_LOCKOUT_SECONDS", settings.TAOS_AUTH_LOCKOUT_SECONDS,
                          env="TAOS_AUTH_LOCKOUT_SECONDS")
    messages += _positive("DATA_UPLOAD_MAX_MEMORY_SIZE", settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
                          env="TAOS_MAX_BODY_BYTES")
    messages += _positive("SECURE_HSTS_SECONDS", settings.SECURE_HSTS_SECONDS,
                          env="SECURE_HSTS_SECONDS", minimum=0)
    try:
        parse_networks(settings.TAOS_TRUSTED_PROXIES)
    except ValueError as exc:
        messages.append(checks.Error(
            f"TAOS_TRUSTED_PROXIES: {exc}.",
            hint="Comma-separated addresses or networks, e.g. 10.0.0.5,10.1.0.0/16.",
            id="taos.E003"))
    messages += _database_checks() + _cache_checks()
    return messages


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


def _cache_checks() -> list[checks.CheckMessage]:
    messages = []
    for alias, cache in settings.CACHES.items():
        backend = cache.get("BACKEND", "")
        if backend.endswith("LocMemCache") or backend.endswith("DummyCache"):
            messages.append(checks.Error(
                f"CACHES[{alias!r}] is {backend}: workers would not share rate limits, "
                f"lockouts or replays.", hint="Set REDIS_URL, or leave it unset for the "
                "database cache.", id="taos.E005"))
        if backend == "django_redis.cache.RedisCache":
            url = str(cache.get("LOCATION", ""))
            parts = urlsplit(url)
            if parts.scheme not in REDIS_SCHEMES or not (parts.hostname or parts.path):
                messages.append(checks.Error(
                    f"REDIS_URL is not a Redis URL: {url!r}.",
                    hint="redis://host:6379/0, rediss://... or unix:///path/to/socket",
                    id="taos.E005"))
            else:
                try:
                    parts.port  # noqa: B018  raises on a bad port
                except ValueError:
                    messages.append(checks.Error(f"REDIS_URL has a bad port: {url!r}.",
                                                 id="taos.E005"))
    return messages


@checks.register()
def check_production_secret_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """With DATABASE_URL (production), SECRET_KEY must be strong, not just set."""
    if not settings.DATABASE_URL:
        return []
    reason = weak_secret(settings.SECRET_KEY, min_length=SECRET_MIN_LENGTH)
    if reason is None:
        return []
    return [checks.Error(
        f"SECRET_KEY is too weak for production: {reason}.",
        hint="Generate one: python -c 'import secrets; print(secrets.token_urlsafe(50))'",
        id="taos.E006")]


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
