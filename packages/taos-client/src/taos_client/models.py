"""What the API answers, as typed values: agents, deploy tasks, tokens, pages.

Each value keeps the API's field names (`docs/api.md`); fields the server
adds later are kept in `extra`, so an older client never drops them. `meta`
says how the answer came: attempts, whether it was a replay, lost answers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class CallInfo:
    """How one logical call went.

    `attempts`: requests sent (1 without retries). `replayed`: the answer is
    the server's stored first answer to this `idempotency_key`
    (`Idempotent-Replayed: true`), so an earlier attempt did the work.
    `lost_answers`: attempts that may have reached the server but whose
    answer never came back. `request_id`: the server's `X-Request-ID`, if any.
    """

    method: str
    path: str
    status: int = 0
    attempts: int = 0
    idempotency_key: str | None = None
    replayed: bool = False
    lost_answers: int = 0
    request_id: str | None = None


def _build(cls: type[T], data: dict[str, Any], meta: CallInfo | None) -> T:
    names = {f.name for f in dataclasses.fields(cls)} - {"extra", "meta"}
    known = {k: v for k, v in data.items() if k in names}
    extra = {k: v for k, v in data.items() if k not in names}
    return cls(**known, extra=extra, meta=meta)  # type: ignore[call-arg]


@dataclass
class Agent:
    id: int
    name: str
    display_name: str
    host: str = ""
    qmd_index: str = ""
    color: str = ""
    emoji: str = ""
    can_read_user_memory: bool = False
    framework: str = ""
    model: str = ""
    status: str = ""
    created_at: str = ""
    updated_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    meta: CallInfo | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], meta: CallInfo | None = None) -> Agent:
        return _build(cls, data, meta)


@dataclass
class DeployTask:
    id: int
    agent: str
    state: str
    backend: str = ""
    attempts: int = 0
    created_at: str | None = None
    queued_at: str | None = None
    started_at: str | None = None
    heartbeat_at: str | None = None
    finished_at: str | None = None
    stale: bool = False
    error: str = ""
    log_tail: str = ""
    status_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    meta: CallInfo | None = field(default=None, repr=False, compare=False)

    FINISHED_STATES = ("succeeded", "failed", "skipped")

    @property
    def finished(self) -> bool:
        """Return whether the deploy has ended (a stale one counts: its job is gone)."""
        return self.state in self.FINISHED_STATES or self.stale

    @classmethod
    def from_json(cls, data: dict[str, Any], meta: CallInfo | None = None) -> DeployTask:
        return _build(cls, data, meta)


@dataclass
class Deployed:
    """The answer to `POST /api/agents/deploy/`: the new agent and its deploy task."""

    agent: Agent
    deploy: DeployTask
    meta: CallInfo | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], meta: CallInfo | None = None) -> Deployed:
        return cls(agent=Agent.from_json(data["agent"], meta),
                   deploy=DeployTask.from_json(data["deploy"], meta), meta=meta)


@dataclass
class TokenInfo:
    """An agent token's metadata; never the secret."""

    id: int
    agent: str
    prefix: str
    created_at: str = ""
    created_by: Any = None
    expires_at: str | None = None
    last_used_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    meta: CallInfo | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], meta: CallInfo | None = None) -> TokenInfo:
        return _build(cls, data, meta)


@dataclass
class IssuedToken(TokenInfo):
    """A token just issued or rotated: `token` is the secret, given this once."""

    token: str = field(default="", repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], meta: CallInfo | None = None) -> IssuedToken:
        return _build(cls, data, meta)


@dataclass
class AgentPage:
    count: int
    next: str | None
    previous: str | None
    results: list[Agent]
    meta: CallInfo | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], meta: CallInfo | None = None) -> AgentPage:
        return cls(count=data["count"], next=data.get("next"), previous=data.get("previous"),
                   results=[Agent.from_json(item) for item in data["results"]], meta=meta)


def as_json(value: Any) -> Any:
    """Return a value of this module as the API's JSON (what `--json` prints)."""
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if not dataclasses.is_dataclass(value):
        return value
    out: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        if f.name == "meta":
            continue
        item = getattr(value, f.name)
        if f.name == "extra":
            out.update(item)
        else:
            out[f.name] = as_json(item)
    return out
