from django.apps import AppConfig


class DeploysConfig(AppConfig):
    name = "deploys"
    verbose_name = "Deploys"

    def ready(self) -> None:
        from deploys import checks  # noqa: F401  (registers the deploy settings checks)
