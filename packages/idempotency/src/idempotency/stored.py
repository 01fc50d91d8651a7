"""`StoredResponse`: a completed response as the table (and Redis) keep it, in plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class StoredResponse:
    """A completed response as kept for replays: status, body, replayable headers.

    Plain data: its HTTP form is idempotency/protocol.py's.
    """

    fingerprint: str
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    expires_at: datetime | None = None
