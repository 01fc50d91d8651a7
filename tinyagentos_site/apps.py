from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "tinyagentos_site"
    verbose_name = "TinyAgentOS site"
