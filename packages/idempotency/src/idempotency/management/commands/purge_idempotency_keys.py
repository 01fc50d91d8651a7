from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from idempotency import services


class Command(BaseCommand):
    help = "Delete expired idempotency keys (older than IDEMPOTENCY_TTL_SECONDS), in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="Only count the expired keys; delete nothing.")
        parser.add_argument("--batch-size", type=int, default=1000,
                            help="Rows deleted per transaction (default 1000).")

    def handle(self, *args: Any, dry_run: bool, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        count = services.purge_expired(batch_size=batch_size, dry_run=dry_run)
        if dry_run:
            self.stdout.write(f"Would delete {count} expired idempotency key(s).")
        else:
            self.stdout.write(f"Deleted {count} expired idempotency key(s).")
