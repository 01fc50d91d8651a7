"""The pepper's fingerprint kept with the data: record it with the first token, compare at start.

Digests are HMACs keyed with TOKENS_PEPPER; under another pepper every stored
token is refused as unknown. The row this module writes says which pepper
the stored digests were made with, so that tokens/checks.py can stop a start
whose pepper is not that one, instead of letting every agent fail.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection

from access.checks import database_file_missing
from tokens import crypto
from tokens.models import AgentToken, OperatorToken, PepperFingerprint


def record_pepper() -> None:
    """Record the current pepper's fingerprint unless one is recorded; call it with each new token.

    One INSERT that ignores the existing row (every engine), inside the
    caller's transaction: the first token and the fingerprint commit together.
    """
    PepperFingerprint.objects.bulk_create(
        [PepperFingerprint(fingerprint=crypto.pepper_fingerprint(settings.TOKENS_PEPPER))],
        ignore_conflicts=True,
    )


@dataclass(frozen=True)
class PepperState:
    """What the database says of the pepper: its recorded fingerprint and how many tokens need it."""

    recorded: str | None
    tokens: int

    @property
    def matches(self) -> bool:
        return self.recorded is None or self.recorded == crypto.pepper_fingerprint(
            settings.TOKENS_PEPPER)


def pepper_state() -> PepperState | None:
    """Return the database's record of the pepper, or None when it cannot tell.

    None: the tables are not migrated yet, the database is unreachable or
    misconfigured, or the embedded default's SQLite file does not exist
    (opening it would make it).
    """
    if database_file_missing(connection):
        return None
    try:
        row = PepperFingerprint.objects.filter(pk=1).values_list("fingerprint", flat=True).first()
        tokens = AgentToken.objects.count() + OperatorToken.objects.count()
    except (DatabaseError, ImproperlyConfigured):  # the site's own checks say why
        return None
    return PepperState(recorded=row, tokens=tokens)
