from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Tokens"

    def ready(self) -> None:
        from tokens import checks  # noqa: F401  registers the settings checks
        from tokens import schema  # noqa: F401  registers the OpenAPI schemes
