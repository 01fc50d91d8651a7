"""System checks for access control's settings: a wrong value stops `manage.py check` and the start.

Settings that are parsed when a request needs them (rates, proxy networks,
the cache URL) would otherwise pass every check and then fail every request.
Each message names the environment variable to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from access.client_address import parse_networks
from access.throttling import parse_rate

# What a secret shared by every host must at least be, in production.
SECRET_MIN_LENGTH = 50
SECRET_MIN_DISTINCT = 10
REDIS_SCHEMES = {"redis", "rediss", "unix"}
MAX_FAILURE_LIMIT = 1000
# A lockout window shorter than this lets a guesser retry at full speed.
PRODUCTION_MIN_LOCKOUT_SECONDS = 60
# (setting, smallest, largest): each counted slot is a cache key a password check reads.
LOCKOUT_BOUNDS = (("TAOS_AUTH_FAILURE_LIMIT", 1, MAX_FAILURE_LIMIT),
                  ("TAOS_AUTH_USER_FAILURE_LIMIT", 1, MAX_FAILURE_LIMIT),
                  ("TAOS_AUTH_DEVICE_FAILURE_LIMIT", 1, MAX_FAILURE_LIMIT),
                  ("TAOS_AUTH_LOCKOUT_SECONDS", 1, None),
                  ("TAOS_DEVICE_COOKIE_AGE", 1, None))
# The migration that makes the database cache's table (access/migrations/).
CACHE_TABLE_MIGRATION = ("access", "0001_database_cache_table")


def weak_secret(value: str, *, min_length: int) -> str | None:
    """Say why `value` is too weak to be a shared production secret, or None."""
    if len(value) < min_length:
        return f"it has {len(value)} characters, fewer than {min_length}"
    if len(set(value)) < SECRET_MIN_DISTINCT:
        return f"it has fewer than {SECRET_MIN_DISTINCT} distinct characters"
    if value.startswith("django-insecure-"):
        return "it is a development key (django-insecure-...)"
    return None


def check_access_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Check the rates, the lockout's limits, the trusted proxies and the shared cache."""
    messages: list[checks.CheckMessage] = []
    for name in ("TAOS_THROTTLE_USER", "TAOS_THROTTLE_ANON"):
        try:
            parse_rate(getattr(settings, name))
        except ValueError as exc:
            messages.append(checks.Error(
                f"{name}: {exc}.", hint="A rate is COUNT/PERIOD (s, min, h, day), or off.",
                id="taos.E001"))
    for name, minimum, maximum in LOCKOUT_BOUNDS:
        value = getattr(settings, name)
        if isinstance(value, int) and value >= minimum and (maximum is None or value <= maximum):
            continue
        bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        messages.append(checks.Error(f"{name} must be an integer {bounds}, got {value!r}.",
                                     id="taos.E002", obj=name))
    try:
        parse_networks(settings.TAOS_TRUSTED_PROXIES)
    except ValueError as exc:
        messages.append(checks.Error(
            f"TAOS_TRUSTED_PROXIES: {exc}.",
            hint="Comma-separated addresses or networks, e.g. 10.0.0.5,10.1.0.0/16.",
            id="taos.E003"))
    return messages + _cache_checks()


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


def check_production_access_settings(app_configs: Any = None,
                                     **kwargs: Any) -> list[checks.CheckMessage]:
    """With DATABASE_URL (production): no proxy list that trusts everyone, no short lockout."""
    if not settings.DATABASE_URL:
        return []
    messages: list[checks.CheckMessage] = []
    try:
        networks = parse_networks(settings.TAOS_TRUSTED_PROXIES)
    except ValueError:
        networks = ()  # check_access_settings reports it
    for network in networks:
        if network.prefixlen == 0:
            messages.append(checks.Error(
                f"TAOS_TRUSTED_PROXIES trusts every address ({network}): any client "
                f"chooses the address it is counted and locked out under.",
                hint="List your proxies' own addresses or networks only.",
                id="taos.E020", obj="TAOS_TRUSTED_PROXIES"))
    window = settings.TAOS_AUTH_LOCKOUT_SECONDS
    if isinstance(window, int) and 1 <= window < PRODUCTION_MIN_LOCKOUT_SECONDS:
        messages.append(checks.Error(
            f"TAOS_AUTH_LOCKOUT_SECONDS is {window}, under a minute: failed passwords "
            f"are forgotten before they slow a guesser down.",
            hint=f"Use at least {PRODUCTION_MIN_LOCKOUT_SECONDS} (the default is 900).",
            id="taos.E020", obj="TAOS_AUTH_LOCKOUT_SECONDS"))
    return messages


def check_lockout_cache_table(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The lockout counts in the default cache: a database cache needs its table.

    Without it every failed login would go uncounted (access/lockout.py lets
    authentication through when the cache fails). Said only once the
    migration that makes the table has run (before, `migrate` is about to
    make it: this check runs first), and not when the database cannot be
    reached (nothing then answers at all).
    """
    from django.core.cache import caches
    from django.core.cache.backends.db import BaseDatabaseCache
    from django.db import DatabaseError, connections, router
    from django.db.migrations.recorder import MigrationRecorder

    try:
        cache = caches["default"]
    except Exception:  # a bad CACHES setting: taos.E005 and Django's own checks say why
        return []
    if not isinstance(cache, BaseDatabaseCache):
        return []
    connection = connections[router.db_for_write(cache.cache_model_class)]
    if database_file_missing(connection):
        return []  # no database yet (and connecting would make an empty one): migrate comes
    try:
        with connection.cursor() as cursor:
            tables = connection.introspection.table_names(cursor)
        if cache._table in tables:
            return []
        if CACHE_TABLE_MIGRATION not in MigrationRecorder(connection).applied_migrations():
            return []
    except DatabaseError:
        return []
    return [checks.Error(
        f"The database cache's table {cache._table!r} is missing: failed logins would not be "
        f"counted, and the lockout would never apply.",
        hint="Run: python manage.py createcachetable (or set REDIS_URL).", id="taos.E030")]


def database_file_missing(connection: Any) -> bool:
    """Return whether the embedded default's SQLite file does not exist yet.

    Connecting would make an empty one, so checks that read the database
    skip it until `migrate` made it. A production database (DATABASE_URL)
    is never "missing" here: its checks report an unreachable server.
    """
    if settings.DATABASE_URL:
        return False
    name = str(connection.settings_dict["NAME"])
    return not (name == ":memory:" or name.startswith("file:") or Path(name).exists())
