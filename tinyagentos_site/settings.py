"""Settings for the TinyAgentOS control plane, read from the environment.

Every setting read here is listed with its default in docs/configuration.md.
Unset, the site runs on the embedded default: a SQLite
file and a database cache under var/, no Redis needed.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from idempotency.conf import DEFAULTS as _idempotency
from request_context.logs import FORMATS as _log_formats
from request_context.logs import logging_config
from tinyagentos_site.env import (
    env_bool,
    env_int,
    env_list,
    env_str,
    secret_from_env_or_file,
)
from tinyagentos_site.private_files import make_private

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("TAOS_VAR_DIR", str(BASE_DIR / "var")))

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")

# Several hosts must agree on these, so production (DATABASE_URL set) must
# set them; the embedded default keeps generated ones under var/.
SECRET_KEY = secret_from_env_or_file(
    "SECRET_KEY", VAR_DIR / "secret_key", required=bool(DATABASE_URL)
)

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # First, so that its admin/base_site.html (the console's stylesheet) wins over Django's.
    "console",
    # Django's admin, its default site the console's (console/sites.py ConsoleSite).
    "console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tinyagentos_site",
    "request_context",
    "api",
    "access",
    "agents",
    "tokens",
    "deploys",
    "idempotency",
    "metrics",
]

MIDDLEWARE = [
    # First: every response (errors, redirects, 404s, static files) carries
    # X-Request-ID, and every log line of the request its ID (docs/logging.md).
    "request_context.middleware.RequestIdMiddleware",
    # Second: times and counts every request (metrics/, docs/operations.md).
    "metrics.middleware.MetricsMiddleware",
    # SecurityMiddleware's HTTPS redirect of an unsafe request keeps its method (308).
    "api.redirects.HttpsRedirectKeepsMethodMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "api.middleware.ApiBodyLimitMiddleware",
    # A body in a charset the site cannot decode: 415 before the CSRF check reads it.
    "api.middleware.RequestCharsetMiddleware",
    # Unsafe /api/ requests must be JSON: no cross-site form can send one.
    "api.middleware.ApiJsonOnlyMiddleware",
    "access.middleware.ForeignSessionCookieMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # /api/ paths answer the same with and without their trailing slash.
    "api.middleware.ApiTrailingSlashMiddleware",
    "api.redirects.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "access.middleware.LoginLockoutMiddleware",
    # A client that logs in with a password gets a device cookie (access/device_cookie.py).
    "access.device_cookie.DeviceCookieMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Reads the body of a request with an Idempotency-Key before anything can
    # stream it (an authenticator's parser), for the view's fingerprint.
    "idempotency.middleware.IdempotencyMiddleware",
]

ROOT_URLCONF = "tinyagentos_site.urls"
WSGI_APPLICATION = "tinyagentos_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------

# "pgbouncer": DATABASE_URL points at PgBouncer in transaction pooling mode,
# where consecutive transactions of one connection may run on different
# server connections; the site then keeps no session state (see below).
DB_POOLER = env_str("DB_POOLER", "")
if DB_POOLER not in ("", "pgbouncer"):
    raise ImproperlyConfigured(f"DB_POOLER must be empty or 'pgbouncer', not {DB_POOLER!r}")

if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
    _db = DATABASES["default"]
    if _db["ENGINE"] == "django.db.backends.mysql":
        _db["OPTIONS"] = {
            # 4-byte UTF-8 (emoji are agent fields) and READ COMMITTED, what
            # the code relies on as on PostgreSQL: each statement sees every
            # row committed before it began (Django's default, said aloud).
            # Strict mode is MariaDB's default; `check --database` warns
            # (mysql.W002) if a server turned it off.
            "charset": "utf8mb4",
            "isolation_level": "read committed",
            **_db.get("OPTIONS", {}),
        }
        # The server's default collation, as production would have it: the
        # columns that must compare bytes say so (idempotency migration 0002).
        _db["TEST"] = {"CHARSET": "utf8mb4", **_db.get("TEST", {})}
    if DB_POOLER == "pgbouncer":
        if _db["ENGINE"] != "django.db.backends.postgresql":
            raise ImproperlyConfigured("DB_POOLER=pgbouncer needs a postgres:// DATABASE_URL")
        # Transaction pooling: no named cursor may outlive its transaction's
        # server connection, and no statement is prepared on a server
        # connection another client may get next (psycopg's, and the
        # idempotency engine's, which it skips with DISABLE_SERVER_SIDE_CURSORS).
        # The idempotency path's only setting is set_config(..., true), i.e.
        # SET LOCAL (idempotency.engines.postgresql).
        _db["DISABLE_SERVER_SIDE_CURSORS"] = True
        _db["OPTIONS"] = {"prepare_threshold": None, **_db.get("OPTIONS", {})}
else:
    SQLITE_PATH = Path(env_str("TAOS_SQLITE_PATH", str(VAR_DIR / "db.sqlite3")))
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    # var/ 0700, its files 0600, and a 0o077 umask for what comes later
    # (SQLite's -wal and -shm); the test database lives here too.
    make_private(VAR_DIR, extra_files=(SQLITE_PATH,))
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # Take the write lock when a transaction begins, not at its
                # first write: concurrent writers then queue on the busy
                # timeout instead of failing with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": env_int("TAOS_SQLITE_BUSY_TIMEOUT", 20),
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Live-server tests run gunicorn workers against the test
            # database, so it must be a file, never in memory.
            "TEST": {"NAME": str(VAR_DIR / "test.sqlite3")},
            # Keep a worker's connection (and its PRAGMAs) between requests.
            "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60),
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: shared by every worker, never per-process memory ---------------


def redis_cache(*, ignore_exceptions: bool) -> dict:
    """Return a django-redis cache on REDIS_URL with short socket timeouts.

    Values are JSON, never pickles: whoever can write to Redis must not run
    code in the workers (access/cache_serializer.py).
    """
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "taos"),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
            "IGNORE_EXCEPTIONS": ignore_exceptions,
            "SERIALIZER": "access.cache_serializer.JSONOnlySerializer",
        },
    }


if REDIS_URL:
    # A Redis outage costs speed, never a 5xx: the database stays the source
    # of truth for everything the cache holds.
    CACHES = {"default": redis_cache(ignore_exceptions=True)}
    # Callers that care log the outage themselves (health, throttling), once a
    # request and without a traceback each time.
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
    # Sessions are read from Redis and written through to the database, which
    # stays the source of truth: a Redis outage costs a query, not a login.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    # Django's database cache, except that it never evicts a live entry (the
    # lockout counters live here); MAX_ENTRIES is when expired rows are swept.
    CACHES = {
        "default": {
            "BACKEND": "access.cache.DatabaseCache",
            "LOCATION": "taos_cache",
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "taos"),
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    }

# --- Auth, i18n, static ----------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("TAOS_STATIC_ROOT", str(VAR_DIR / "static")))
if not DATABASE_URL and STATIC_ROOT.is_relative_to(VAR_DIR):
    # Django's 0o644 would undo the private umask for collectstatic's copies.
    FILE_UPLOAD_PERMISSIONS = 0o600
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Bodies above this answer 413 under /api/ (Django's own limit for forms).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("TAOS_MAX_BODY_BYTES", 1024 * 1024)

# --- HTTPS and cookies (all on with TAOS_HTTPS=1) ---------------------------

TAOS_HTTPS = env_bool("TAOS_HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", TAOS_HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", TAOS_HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", TAOS_HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if TAOS_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", TAOS_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("TAOS_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST framework and the schema ------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Bearer tokens first: a malformed one is refused before any query and
        # never falls through to the session. Anonymous calls get 401 with a
        # Bearer challenge only (never Basic: browsers would cache it).
        "tokens.authentication.AgentTokenAuthentication",
        "tokens.authentication.OperatorTokenAuthentication",
        # Only with TAOS_API_BASIC_AUTH=1 (scripts); see the Authentication section.
        "access.basic_auth.OptInBasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Each route names its act; the acts' permissions are the admin's (access/permission_map.py).
    "DEFAULT_PERMISSION_CLASSES": ["access.permissions.ActionPermissions"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StrictJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["access.throttling.PrincipalRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Requests per principal (agent, user) and per anonymous address, counted in
# the shared cache; "off" disables. See access/throttling.py. Off by
# default without Redis: on the database cache every count is a write.
TAOS_THROTTLE_USER = env_str("TAOS_THROTTLE_USER", "6000/min" if REDIS_URL else "off")
TAOS_THROTTLE_ANON = env_str("TAOS_THROTTLE_ANON", "600/min" if REDIS_URL else "off")

SPECTACULAR_SETTINGS = {
    "TITLE": "TinyAgentOS control plane API",
    "DESCRIPTION": "Create, deploy and manage self-hosted AI agents and their tokens.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_problem_responses",
        "agents.schema.add_slug_pattern",
        "idempotency.schema.add_idempotency_policy",
    ],
}

# --- Logging -----------------------------------------------------------------

# Error reports (the DEBUG page too) mask passwords inside URL settings.
DEFAULT_EXCEPTION_REPORTER_FILTER = "tinyagentos_site.reporting.SettingsFilter"

# "text" (the default) or "json": one JSON object a line (docs/logging.md).
TAOS_LOG_FORMAT = env_str("TAOS_LOG_FORMAT", "text")
if TAOS_LOG_FORMAT not in _log_formats:
    raise ImproperlyConfigured(
        f"TAOS_LOG_FORMAT must be one of {', '.join(_log_formats)}, not {TAOS_LOG_FORMAT!r}")
LOGGING = logging_config(log_format=TAOS_LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO"))
# Who made a request, for its log line: agent, operator token or user (ids only).
REQUEST_CONTEXT_PRINCIPAL = "access.principals.log_principal_for"

# --- Deploys (deploys app: DeployTask, deploy job, backends) -----------------

# Django's Tasks API (the django-tasks backport on 5.2) with the database
# backend: jobs are rows in the same database, claimed by `manage.py db_worker`
# (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, an exclusive transaction
# on SQLite), so any number of workers on any number of hosts can run.
INSTALLED_APPS += ["django_tasks", "django_tasks_db"]
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}
# "" (the embedded default): nothing deploys, deploy tasks end `skipped`.
# "command": run DEPLOY_COMMAND (e.g. deploy/incus.sh) for each deploy.
DEPLOY_BACKEND = env_str("DEPLOY_BACKEND", "")
# The executable and its arguments, split like a shell would (no shell runs it).
DEPLOY_COMMAND = env_str("DEPLOY_COMMAND", "")
# Extra environment variables passed through to the command (comma-separated).
DEPLOY_COMMAND_PASS_ENV = env_list("DEPLOY_COMMAND_PASS_ENV", [])
# A command running longer than this is killed and its deploy fails.
DEPLOY_TIMEOUT_SECONDS = env_int("DEPLOY_TIMEOUT_SECONDS", 600)
# A running job writes a heartbeat this often...
DEPLOY_HEARTBEAT_SECONDS = env_int("DEPLOY_HEARTBEAT_SECONDS", 5)
# ...and a running deploy without one for this long is marked failed (its
# worker died); a queued one never enqueued for this long, too.
DEPLOY_STALE_SECONDS = env_int("DEPLOY_STALE_SECONDS", 120)

# --- Tokens (tokens app) -----------------------------------------------------------

# The key of the HMAC that stores token digests. Every host must share it, so
# production (DATABASE_URL set) must set it; the embedded default keeps a
# generated one under var/. Changing it invalidates every token.
TOKENS_PEPPER = secret_from_env_or_file(
    "TOKENS_PEPPER", VAR_DIR / "tokens_pepper", required=bool(DATABASE_URL),
    # Never a new pepper for a database that exists: its tokens need theirs
    # (tokens/checks.py then stops the start and says so).
    create=bool(DATABASE_URL) or not (SQLITE_PATH.exists() and SQLITE_PATH.stat().st_size),
)
# Lifetime of a new agent token in seconds; 0: agent tokens do not expire.
TOKENS_AGENT_TOKEN_TTL_SECONDS = env_int("TOKENS_AGENT_TOKEN_TTL_SECONDS", 0)

# --- Idempotency (the idempotency package, packages/idempotency) -------------

# The package's defaults (idempotency.conf.DEFAULTS); the environment may
# override each. docs/idempotency.md, "Settings", lists them.
# How long a request waits for another one holding the same key, then 409.
IDEMPOTENCY_WAIT_SECONDS = env_int("IDEMPOTENCY_WAIT_SECONDS", _idempotency["WAIT_SECONDS"])
# How long a completed key is kept (and replayed); then purged or run anew.
IDEMPOTENCY_TTL_SECONDS = env_int("IDEMPOTENCY_TTL_SECONDS", _idempotency["TTL_SECONDS"])
# How many requests wait for another one holding their key at once (per key,
# across workers and hosts); the rest answer 409 with Retry-After at once
# (docs/architecture.md, "Waiting is fair"). At most 15.
IDEMPOTENCY_WAITERS_PER_KEY = env_int("IDEMPOTENCY_WAITERS_PER_KEY",
                                      _idempotency["WAITERS_PER_KEY"])
# SQLite: where the key slots' lock files live; empty: beside the SQLite file.
IDEMPOTENCY_SLOT_DIR = env_str("IDEMPOTENCY_SLOT_DIR", _idempotency["SLOT_DIR"])
# Make the Idempotency-Key header mandatory on the endpoints that accept it.
IDEMPOTENCY_REQUIRED = env_bool("IDEMPOTENCY_REQUIRED", _idempotency["REQUIRED"])
# Completed responses are also kept in Redis (when REDIS_URL is set) and
# replayed from it. Its own alias, without IGNORE_EXCEPTIONS, so that an
# outage is seen, logged as a warning, and answered from the database.
IDEMPOTENCY_CACHE_ALIAS = (
    "idempotency" if REDIS_URL and env_bool("IDEMPOTENCY_REDIS_FAST_PATH", True) else ""
)
if IDEMPOTENCY_CACHE_ALIAS:
    CACHES["idempotency"] = redis_cache(ignore_exceptions=False)
# A key belongs to the agent of an agent token, else to the user.
IDEMPOTENCY_PRINCIPAL = "access.principals.principal_for"
# Its errors are this API's problem details, with the codes of ErrorCode.
IDEMPOTENCY_ERROR_RESPONSE = "api.errors.idempotency_error_response"

# --- Authentication (site): Basic opt-in, lockout, client address ------------

# Every password check goes through the lockout (access/password_backend.py).
AUTHENTICATION_BACKENDS = ["access.password_backend.LockoutModelBackend"]
# HTTP Basic on the API, for scripts; off: only tokens and sessions. Never a
# Basic challenge either way (a browser would cache the password).
TAOS_API_BASIC_AUTH = env_bool("TAOS_API_BASIC_AUTH", False)
# Password checks (each ~0.2 s of CPU, right password or not) HTTP Basic may
# run per client address and second; past it 429. 0: no bound.
TAOS_BASIC_AUTH_CHECKS_PER_SECOND = env_int("TAOS_BASIC_AUTH_CHECKS_PER_SECOND", 5)
# Failed authentications (passwords, well-formed tokens) per client address,
# and failed passwords per user name, within TAOS_AUTH_LOCKOUT_SECONDS; past
# them 429 with Retry-After, and the password is not checked.
TAOS_AUTH_FAILURE_LIMIT = env_int("TAOS_AUTH_FAILURE_LIMIT", 10)
TAOS_AUTH_USER_FAILURE_LIMIT = env_int("TAOS_AUTH_USER_FAILURE_LIMIT", 30)
TAOS_AUTH_LOCKOUT_SECONDS = env_int("TAOS_AUTH_LOCKOUT_SECONDS", 900)
# A client with a device cookie for the user (from an earlier login) counts
# against its own limit instead of the user's: others' failures do not lock it out.
TAOS_AUTH_DEVICE_FAILURE_LIMIT = env_int("TAOS_AUTH_DEVICE_FAILURE_LIMIT", 10)
TAOS_DEVICE_COOKIE_AGE = env_int("TAOS_DEVICE_COOKIE_AGE", 180 * 24 * 3600)
# Proxies (addresses or CIDR networks) whose X-Forwarded-For is believed, for
# the client address of lockouts and rate limits; default none.
TAOS_TRUSTED_PROXIES = env_list("TAOS_TRUSTED_PROXIES", [])

# --- Metrics (metrics app, docs/operations.md) ---------------------------------

# Count requests, keyed requests, logins, tokens and deploys, served at
# GET /metrics; off: nothing is counted and /metrics answers 404.
TAOS_METRICS = env_bool("TAOS_METRICS", True)
# Addresses or CIDR networks (the client address through TAOS_TRUSTED_PROXIES)
# that may scrape /metrics without a token; default none.
TAOS_METRICS_ALLOW = env_list("TAOS_METRICS_ALLOW", [])
