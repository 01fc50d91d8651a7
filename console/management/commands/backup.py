"""Write the embedded default's database and secrets into one 0600 archive."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.backup import BackupError, backup


class Command(BaseCommand):
    help = ("Back up the embedded default (SQLite) while it runs: a consistent copy of the "
            "database, SECRET_KEY and TOKENS_PEPPER in one gzipped tar, created 0600. "
            "Keep it as safe as the secrets it holds.")
    # A backup is what one takes when something is wrong: no check may stop it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The archive to create (never overwritten).")

    def handle(self, *args, path: Path, **options) -> None:
        try:
            manifest = backup(path)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Backed up the database and the secrets to {path} "
                          f"(pepper {manifest.pepper_fingerprint[:12]}…).")
