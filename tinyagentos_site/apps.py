from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "tinyagentos_site"
    verbose_name = "TinyAgentOS site"

    def ready(self) -> None:
        from tinyagentos_site import checks  # noqa: F401  registers the settings checks
