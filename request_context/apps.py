from django.apps import AppConfig


class RequestContextConfig(AppConfig):
    name = "request_context"
    verbose_name = "Request IDs and logs"

    def ready(self) -> None:
        import logging

        # Python's warnings become log lines (py.warnings), formatted like the rest.
        logging.captureWarnings(True)
