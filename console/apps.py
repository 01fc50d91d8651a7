"""The console's two app configs: the app itself, and Django's admin with the console's site.

`ConsoleAdminConfig` replaces "django.contrib.admin" in INSTALLED_APPS (it
is that app, label "admin", with `default_site` pointing at `ConsoleSite`);
"console" installs this package's own admin modules and templates.
"""

from __future__ import annotations

from django.apps import AppConfig
# The module, not the class: a second default AppConfig in this module's
# namespace would make "console" ambiguous to Django's app loading.
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    default = True
    name = "console"
    verbose_name = "Console"


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """Django's admin, autodiscovering every app's admin.py onto `ConsoleSite`."""

    default = False
    default_site = "console.sites.ConsoleSite"
