from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "idempotency"
    verbose_name = "Idempotency"

    def ready(self) -> None:
        from django.core import checks

        from idempotency.checks import check_settings

        checks.register(check_settings)
