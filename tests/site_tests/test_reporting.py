"""Error reports (the DEBUG page, mailed reports) never show a password inside a URL setting."""

from __future__ import annotations

import secrets
import sys

import pytest
from django.test import RequestFactory, override_settings
from django.views.debug import ExceptionReporter

from tinyagentos_site.reporting import SettingsFilter, mask_url_passwords

# Made at run time: the debug page shows this file's source lines too.
PASSWORD = secrets.token_hex(8)
URL_SETTINGS = {
    "DATABASE_URL": f"postgres://taos:db-{PASSWORD}@db.lan:5432/taos",
    "REDIS_URL": f"redis://:redis-{PASSWORD}@cache.lan:6379/0",
    "CACHES": {"default": {"BACKEND": "django_redis.cache.RedisCache",
                           "LOCATION": f"rediss://default:loc-{PASSWORD}@cache.lan:6380/1"}},
}


@pytest.mark.parametrize(("url", "masked"), [
    ("postgres://u:p%40ss@h:5432/d", "postgres://u:***@h:5432/d"),
    ("redis://:secret@h:6379/0", "redis://:***@h:6379/0"),
    ("mysql://root@127.0.0.1:3306/db", "mysql://root@127.0.0.1:3306/db"),
    ("unix:///run/redis.sock", "unix:///run/redis.sock"),
    ("redis://h:6379/0", "redis://h:6379/0"),
])
def test_url_passwords_are_masked_and_the_rest_kept(url, masked):
    assert mask_url_passwords(url, "***") == masked


@override_settings(**URL_SETTINGS)
def test_the_settings_an_error_report_shows_hold_no_url_password():
    shown = SettingsFilter().get_safe_settings()
    text = repr(shown)
    assert PASSWORD not in text
    assert shown["DATABASE_URL"].startswith("postgres://taos:*")
    assert shown["CACHES"]["default"]["LOCATION"].endswith("@cache.lan:6380/1")


@override_settings(DEBUG=True, **URL_SETTINGS)
def test_the_debug_page_shows_no_url_password():
    request = RequestFactory().get("/boom")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        html = ExceptionReporter(request, *sys.exc_info()).get_traceback_html()
    assert "boom" in html
    assert PASSWORD not in html
    assert "db.lan" in html  # the rest of the URL is still there to debug with
