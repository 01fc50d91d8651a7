"""Issue (or with --rotate, rotate) an agent's token; print its secret alone on one line."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.models import Agent
from tokens import services
from tokens.errors import TokenAlreadyActive


class Command(BaseCommand):
    help = (
        "Issue a token for the agent SLUG. The secret is printed once, alone on the last "
        "line of standard output. Fails if the agent has an active token, unless --rotate."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--rotate", action="store_true",
                            help="Revoke the active token, if any, and issue a new one.")

    def handle(self, *args, slug: str, rotate: bool, **options) -> None:
        try:
            agent = Agent.objects.get(name=slug)
        except Agent.DoesNotExist:
            raise CommandError(f"No agent {slug!r}.") from None
        try:
            if rotate:
                issued = services.token_rotate(agent=agent)
            else:
                issued = services.token_issue(agent=agent)
        except TokenAlreadyActive:
            raise CommandError(
                f"Agent {slug!r} already has an active token; use --rotate to replace it."
            ) from None
        self.stderr.write(
            f"Issued token {issued.token.prefix}… for agent {slug}. "
            f"The secret below is shown only this once."
        )
        self.stdout.write(issued.secret)
