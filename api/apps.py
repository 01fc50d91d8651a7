from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The API's shared conventions: errors, parsing, pagination, schema hooks."""

    name = "api"
    verbose_name = "API conventions"
