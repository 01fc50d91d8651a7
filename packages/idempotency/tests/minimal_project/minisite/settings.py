"""A minimal project that uses the idempotency package as any project would: one model, one view.

Its database comes from the environment: MINISITE_DB_ENGINE `sqlite` (the
default; MINISITE_DB_NAME is the file) or `postgresql` (MINISITE_DB_NAME,
_HOST, _PORT, _USER, _PASSWORD).
"""

from __future__ import annotations

import os

SECRET_KEY = "minisite-test-only-secret-key-0123456789-abcdefghijklmnop"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "idempotency",
    "notes",
]
MIDDLEWARE = ["idempotency.middleware.IdempotencyMiddleware"]
ROOT_URLCONF = "minisite.urls"
WSGI_APPLICATION = "minisite.wsgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Test users only: a fast hasher keeps concurrent Basic logins concurrent.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if os.environ.get("MINISITE_DB_ENGINE", "sqlite") == "postgresql":
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["MINISITE_DB_NAME"],
        "HOST": os.environ.get("MINISITE_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("MINISITE_DB_PORT", "5432"),
        "USER": os.environ.get("MINISITE_DB_USER", ""),
        "PASSWORD": os.environ.get("MINISITE_DB_PASSWORD", ""),
    }}
else:
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("MINISITE_DB_NAME", "db.sqlite3"),
        # A request waits for the holder of its key at BEGIN, which takes the
        # write lock only in IMMEDIATE mode.
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20,
                    "init_command": "PRAGMA journal_mode=WAL;"},
    }}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# Every duplicate of a key waits for its holder (at most 15 may), up to 30 s.
IDEMPOTENCY_WAITERS_PER_KEY = 15
IDEMPOTENCY_WAIT_SECONDS = 30
