"""Create a personal API token for a user; print its secret alone on one line."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tokens import services


class Command(BaseCommand):
    help = (
        "Create an operator token for USER, for scripts that should not send a password. "
        "The secret is printed once, alone on the last line of standard output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What the token is for.")
        parser.add_argument("--expires-in-days", type=int, default=None,
                            help="Let the token expire after this many days (default: never).")

    def handle(self, *args, username: str, name: str, expires_in_days: int | None,
               **options) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"No user {username!r}.") from None
        if expires_in_days is not None and expires_in_days <= 0:
            raise CommandError("--expires-in-days must be positive.")
        expires_at = (timezone.now() + timedelta(days=expires_in_days)
                      if expires_in_days else None)
        try:
            issued = services.operator_token_create(user=user, name=name, expires_at=expires_at)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stderr.write(
            f"Created operator token {issued.token.prefix}… '{name}' for {username}. "
            f"The secret below is shown only this once."
        )
        self.stdout.write(issued.secret)
