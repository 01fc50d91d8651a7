"""A stand-in for the tokens app's services until it is merged (tests only).

The deploy code calls `tokens.services.token_issue` / `token_rotate` (the tokens
app's contract). Where that app is not there yet, tests install these fakes in
`agents.deploy_services`; once it is, `real_tokens_available()` is true and the
tests run on the real thing.
"""

from __future__ import annotations

import importlib
import secrets
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FakeToken:
    agent_id: int


@dataclass(frozen=True)
class FakeIssuedToken:
    token: FakeToken
    secret: str


def real_tokens_available() -> bool:
    try:
        token_services = importlib.import_module("tokens.services")
    except ImportError:
        return False
    return hasattr(token_services, "token_issue") and hasattr(token_services, "token_rotate")


def fake_token_issue(*, agent: Any, actor: Any = None) -> FakeIssuedToken:
    return FakeIssuedToken(token=FakeToken(agent_id=agent.pk),
                           secret="taos_fake" + secrets.token_urlsafe(24))


fake_token_rotate = fake_token_issue


def install_if_missing() -> bool:
    """Install the fakes into agents.deploy_services unless the real ones exist."""
    if real_tokens_available():
        return False
    from agents import deploy_services

    deploy_services._token_issue = fake_token_issue
    deploy_services._token_rotate = fake_token_rotate
    return True
