from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from agents import deploy_services
from tests import fake_tokens
from tests.support.deploy_command import DeployCommand


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
    """Spy on token issue/rotate: the real tokens app if merged, else the fakes."""
    spy = TokenSpy()
    real = fake_tokens.real_tokens_available()
    issue = deploy_services._token_issue if real else fake_tokens.fake_token_issue
    rotate = deploy_services._token_rotate if real else fake_tokens.fake_token_rotate

    def spy_issue(*, agent: Any, actor: Any = None) -> Any:
        issued = issue(agent=agent, actor=actor)
        spy.issued.append(issued.secret)
        return issued

    def spy_rotate(*, agent: Any, actor: Any = None) -> Any:
        issued = rotate(agent=agent, actor=actor)
        spy.rotated.append(issued.secret)
        return issued

    monkeypatch.setattr(deploy_services, "_token_issue", spy_issue)
    monkeypatch.setattr(deploy_services, "_token_rotate", spy_rotate)
    return spy


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
