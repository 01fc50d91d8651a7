from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from deploys.jobs import deploy_mark_stale


class Command(BaseCommand):
    help = (
        "Mark failed every deploy whose worker died (no heartbeat for "
        "DEPLOY_STALE_SECONDS) or whose job was never enqueued; they can then be retried."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        marked = deploy_mark_stale()
        self.stdout.write(f"Marked {marked} stale deploy(s) failed.")
