from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        from django.conf import settings
        from django.core import checks

        from metrics.checks import check_metrics_allow

        checks.register(check_metrics_allow)

        if settings.TAOS_METRICS:
            from metrics import receivers, timing

            receivers.connect()
            timing.time_caches()
