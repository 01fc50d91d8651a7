"""Receivers of the apps' signals (and the idempotency package's) that count into the metrics."""

from __future__ import annotations

from typing import Any

from idempotency import signals as idempotency_signals

from access import signals as access_signals
from deploys import signals as deploy_signals
from metrics import instruments, labels
from tokens import signals as token_signals


def idempotency_outcome(*, request: Any, outcome: str, **_: Any) -> None:
    instruments.idempotency_requests.labels(labels.route(request), outcome).inc()


def idempotency_stored(*, request: Any, **_: Any) -> None:
    instruments.idempotency_stored.labels(labels.route(request)).inc()


def idempotency_reserved(*, request: Any, seconds: float, **_: Any) -> None:
    instruments.idempotency_wait.labels(labels.route(request)).observe(seconds)


def idempotency_slot_taken(**_: Any) -> None:
    instruments.idempotency_slots.inc()


def idempotency_slot_released(**_: Any) -> None:
    instruments.idempotency_slots.dec()


def authentication(*, method: str, outcome: str, **_: Any) -> None:
    instruments.auth_attempts.labels(method, outcome).inc()


def agent_token(*, event: str, count: int = 1, **_: Any) -> None:
    instruments.agent_token_events.labels(event).inc(count)


def deploy_job_finished(*, state: str, backend: str, seconds: float, **_: Any) -> None:
    instruments.deploy_job_duration.labels(state, backend).observe(seconds)


def deploy_stale_marked(*, state: str, **_: Any) -> None:
    instruments.deploy_stale.labels(state).inc()


CONNECTIONS = (
    (idempotency_signals.outcome, idempotency_outcome),
    (idempotency_signals.stored, idempotency_stored),
    (idempotency_signals.reserved, idempotency_reserved),
    (idempotency_signals.slot_taken, idempotency_slot_taken),
    (idempotency_signals.slot_released, idempotency_slot_released),
    (access_signals.authentication, authentication),
    (token_signals.agent_token, agent_token),
    (deploy_signals.job_finished, deploy_job_finished),
    (deploy_signals.stale_marked, deploy_stale_marked),
)


def connect() -> None:
    for signal, receiver in CONNECTIONS:
        signal.connect(receiver, dispatch_uid=f"metrics.{receiver.__name__}")
