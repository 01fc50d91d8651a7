from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from agents.models import Agent
from agents.services import agent_create
from deploys import jobs, services
from tests.support.deploy_command import DeployCommand
from tokens.services import token_issue, token_rotate


@dataclass
class TokenSpy:
    """The secrets that token_issue / token_rotate handed to the deploy code."""

    issued: list[str] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[str]:
        return [*self.issued, *self.rotated]


@pytest.fixture(autouse=True)
def token_spy(monkeypatch) -> TokenSpy:
    """Record the secrets of every token the deploy code issues (request) and rotates (job)."""
    spy = TokenSpy()

    def spy_issue(*, agent: Any, actor: Any = None) -> Any:
        issued = token_issue(agent=agent, actor=actor)
        spy.issued.append(issued.secret)
        return issued

    def spy_rotate(*, agent: Any, actor: Any = None) -> Any:
        issued = token_rotate(agent=agent, actor=actor)
        spy.rotated.append(issued.secret)
        return issued

    monkeypatch.setattr(services, "token_issue", spy_issue)
    monkeypatch.setattr(jobs, "token_rotate", spy_rotate)
    return spy


@pytest.fixture
def agent(db) -> Agent:
    """A registered agent that can be deployed (framework and model set)."""
    return agent_create(display_name="Research Bot", framework="smolagents", model="m")


@pytest.fixture
def deploy_command(tmp_path, settings) -> Callable[..., DeployCommand]:
    """Configure the command backend with tests/support/deploy_command.py; return its recorder."""
    recorder = DeployCommand(tmp_path / "deploys.jsonl")

    def configure(**behaviour: Any) -> DeployCommand:
        settings.DEPLOY_BACKEND = "command"
        settings.DEPLOY_COMMAND = recorder.command(**behaviour)
        return recorder

    return configure


@pytest.fixture
def no_backend(settings) -> None:
    settings.DEPLOY_BACKEND = ""
    settings.DEPLOY_COMMAND = ""
