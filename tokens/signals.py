"""Signals of agent tokens, for whoever counts them (the metrics app).

`agent_token` is sent with `event=` one of EVENTS and `count=` how many, by
the service that did it, when it did it: inside the request's transaction,
so a change the request rolls back later (it failed after the token's
service returned: rare) is still counted; no commit callback is queued for
it, as the deploy tests count those. A lost race (409 token_already_active)
is sent as its transaction rolls back. Never a token, a prefix or an agent.
"""

from __future__ import annotations

from django.dispatch import Signal

ISSUED = "issued"
ROTATED = "rotated"
REVOKED = "revoked"
ISSUE_CONFLICT = "issue_conflict"  # an issue lost to an active token (409)
EVENTS = (ISSUED, ROTATED, REVOKED, ISSUE_CONFLICT)

agent_token = Signal()


def send(event: str, count: int = 1) -> None:
    agent_token.send(sender=None, event=event, count=count)
