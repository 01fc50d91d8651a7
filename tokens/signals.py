"""Signals of agent tokens, for whoever counts them (the metrics app).

`agent_token` is sent with `event=` one of EVENTS and `count=` how many: a
change once its transaction commits, a lost race (409 token_already_active)
at once, as its transaction rolls back. Never a token, a prefix or an agent.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.dispatch import Signal

ISSUED = "issued"
ROTATED = "rotated"
REVOKED = "revoked"
ISSUE_CONFLICT = "issue_conflict"  # an issue lost to an active token (409)
EVENTS = (ISSUED, ROTATED, REVOKED, ISSUE_CONFLICT)

agent_token = Signal()


def on_commit(event: str, count: int = 1) -> None:
    """Send `event` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(agent_token.send, sender=None, event=event, count=count))


def now(event: str, count: int = 1) -> None:
    agent_token.send(sender=None, event=event, count=count)
