"""Restore a `manage.py backup` archive: the database and the secrets, onto this var/."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.backup import BackupError, restore


class Command(BaseCommand):
    help = ("Restore a backup made by manage.py backup: the SQLite database, SECRET_KEY and "
            "TOKENS_PEPPER, so that every token keeps working. Onto a fresh var/ "
            "(TAOS_VAR_DIR); --force replaces an existing database (stop the site first).")
    # Restoring is how a pepper that does not match the data is mended.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The archive manage.py backup wrote.")
        parser.add_argument("--force", action="store_true",
                            help="Replace the database that exists (stop the site first).")

    def handle(self, *args, path: Path, force: bool, **options) -> None:
        try:
            manifest = restore(path, force=force)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Restored the database and the secrets of {path} "
                          f"(made {manifest.created_at}).")
