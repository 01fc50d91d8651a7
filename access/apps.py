from django.apps import AppConfig


class AccessConfig(AppConfig):
    """Access control: who is calling, whether they may, and how often they may fail."""

    name = "access"
    verbose_name = "Access control"

    def ready(self) -> None:
        from django.core import checks

        from access import schema  # noqa: F401  registers the Basic scheme
        from access.checks import (
            check_access_settings,
            check_lockout_cache_table,
            check_production_access_settings,
            check_production_secret_key,
        )

        checks.register(check_access_settings)
        checks.register(check_lockout_cache_table)
        checks.register(check_production_secret_key)
        checks.register(check_production_access_settings, checks.Tags.security, deploy=True)
