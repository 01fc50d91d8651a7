"""Revoke an agent's active token; idempotent."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.models import Agent
from tokens import services


class Command(BaseCommand):
    help = "Revoke the active token of the agent SLUG, if it has one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--reason", default="", help="Kept with the revoked token.")

    def handle(self, *args, slug: str, reason: str, **options) -> None:
        try:
            agent = Agent.objects.get(name=slug)
        except Agent.DoesNotExist:
            raise CommandError(f"No agent {slug!r}.") from None
        count = services.token_revoke(agent=agent, reason=reason)
        if count:
            self.stdout.write(f"Revoked the active token of agent {slug}.")
        else:
            self.stdout.write(f"Agent {slug} has no active token; nothing to do.")
