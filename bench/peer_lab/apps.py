from django.apps import AppConfig
from django.core import checks


class PeerLabConfig(AppConfig):
    name = "bench.peer_lab"
    label = "peer_lab"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # gunicorn.conf.py runs the checks tagged "startup" before serving.
        checks.register(side_runs_here, "startup")


def side_runs_here(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """drf-idempotency's side needs Redis: refuse to serve it without."""
    from django.conf import settings

    if settings.SIDE == "drf" and not settings.REDIS_URL:
        return [checks.Error("PEER_LAB_SIDE=drf needs PEER_LAB_REDIS_URL (its Redis backend)",
                             id="peer_lab.E001")]
    return []
