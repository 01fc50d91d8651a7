"""Settings of the peer lab (bench/peer_lab/__init__.py); every side shares them but MIDDLEWARE and the view's decorator."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import dj_database_url

SIDES = ("control", "drf", "ours")
SIDE = os.environ.get("PEER_LAB_SIDE", "control")
if SIDE not in SIDES:
    raise ValueError(f"PEER_LAB_SIDE must be one of {', '.join(SIDES)}, not {SIDE!r}")

SECRET_KEY = os.environ.get("PEER_LAB_SECRET_KEY") or "peer-lab-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "bench.peer_lab.urls"
WSGI_APPLICATION = "bench.peer_lab.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "idempotency",
    # requirements-bench.txt installs it; `make test` (requirements-dev) does not.
    *(["drf_idempotency"] if importlib.util.find_spec("drf_idempotency") else []),
    "bench.peer_lab",
]

# The one place the sides differ (with the view's decorator, views.py).
MIDDLEWARE = {
    "control": [],
    "drf": ["drf_idempotency.middleware.IdempotencyMiddleware"],
    "ours": ["idempotency.middleware.IdempotencyMiddleware"],
}[SIDE]
# Our app is installed on every side (one schema); only "ours" decorates the view.
SILENCED_SYSTEM_CHECKS = [] if SIDE == "ours" else ["idempotency.E001"]

_database_url = os.environ.get("PEER_LAB_DATABASE_URL", "")
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
        DATABASES["default"]["OPTIONS"] = {"charset": "utf8mb4",
                                           "isolation_level": "read committed"}
else:
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(os.environ["PEER_LAB_SQLITE_PATH"]),
        "CONN_MAX_AGE": 60,
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20,
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
    }}

REDIS_URL = os.environ.get("PEER_LAB_REDIS_URL", "")
_prefix = os.environ.get("PEER_LAB_KEY_PREFIX", "peerlab")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

# No authentication and no throttling on any side: the lab measures the
# idempotency layer, not the site's token lookup.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_THROTTLE_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}

# Ours: one principal for every request (the lab has no users); the Redis
# fast path as the site configures it.
IDEMPOTENCY_PRINCIPAL = "bench.peer_lab.views.lab_principal"
IDEMPOTENCY_CACHE_ALIAS = ""
if REDIS_URL and os.environ.get("IDEMPOTENCY_REDIS_FAST_PATH", "1") != "0":
    IDEMPOTENCY_CACHE_ALIAS = "idempotency"
    CACHES["idempotency"] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": _prefix,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5,
            "IGNORE_EXCEPTIONS": False,
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        },
    }

# Theirs: the Redis backend, as its README recommends for production.
IDEMPOTENCY = {
    "BACKEND": "drf_idempotency.backends.redis.RedisBackend",
    "BACKEND_OPTIONS": {"url": REDIS_URL or "redis://127.0.0.1:6379/0",
                        "key_prefix": f"{_prefix}:drf:"},
}

LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}},
           "root": {"handlers": ["console"], "level": "WARNING"}}
