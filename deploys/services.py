"""The request side of deploys: create an agent with its deploy, retry, read the latest.

Secrets: a deploy issues the agent's first token (so the agent has exactly
one active token from the start) and discards its secret; the job rotates it
and hands the fresh one to the backend only (deploys/jobs.py). No plaintext
secret is ever in a response, a task argument, a log line or the database.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import Agent
from agents.services import agent_create
from deploys.backends import NO_BACKEND_REASON, backend_name
from deploys.errors import (
    AgentArchived,
    AgentNotDeployable,
    DeployInProgress,
    DeployNotFound,
    DeployNotRetryable,
)
from deploys.jobs import deploy_mark_stale, set_agent_status
from deploys.models import DeployTask
from deploys.tasks import deploy_agent
from api.constraints import is_unique_violation
from request_context.ids import current_request_id
from tokens.errors import AgentGone
from tokens.models import AgentToken
from tokens.services import token_issue

logger = logging.getLogger(__name__)

State = DeployTask.State
RETRYABLE_STATES = (State.FAILED, State.SKIPPED)
DEPLOYABLE_STATUSES = (Agent.Status.REGISTERED, Agent.Status.FAILED)


# One transaction (the idempotency layer's, when it wraps the view), no
# savepoint of its own: any error rolls back the agent, token and task together.
@transaction.atomic(savepoint=False)
def deploy_create(*, actor: Any = None, **agent_fields: Any) -> DeployTask:
    """Create an agent, its first token and its deploy task; enqueue the job on commit.

    With no deploy backend configured the agent stays `registered` and its
    task is `skipped` at once, with the reason; no job is enqueued.
    """
    backend = backend_name()
    agent = agent_create(
        **agent_fields,
        status=Agent.Status.DEPLOYING if backend else Agent.Status.REGISTERED,
    )
    # Exactly one active token from the first moment; its secret is dropped
    # here because the job rotates the token and uses the fresh one.
    token_issue(agent=agent, actor=actor)
    now = timezone.now()
    task = DeployTask(agent=agent, backend=backend, queued_at=now)
    if not backend:
        task.state, task.error, task.finished_at = State.SKIPPED, NO_BACKEND_REASON, now
    task.save(force_insert=True)
    if backend:
        _enqueue_on_commit(task_id=task.pk, attempt=1)
    return task


@transaction.atomic
def deploy_existing(*, agent: Agent, actor: Any = None) -> DeployTask:
    """Deploy a registered or failed agent: a new deploy task, its job enqueued on commit.

    The agent row is locked first (the tokens' lock order). A deploy already
    queued or running is `deploy_in_progress` (the unique index decides
    races); an archived agent is `agent_archived`; a running or deploying one
    `agent_not_deployable`. An agent without an active token gets one (its
    secret dropped: the job rotates it and hands the fresh one to the backend).
    """
    try:
        locked = Agent.objects.select_for_update().get(pk=agent.pk)
    except Agent.DoesNotExist:
        raise AgentGone() from None
    if locked.status == Agent.Status.ARCHIVED:
        raise AgentArchived()
    deploy_mark_stale(agent=locked)
    locked.refresh_from_db(fields=["status"])
    if locked.deploy_tasks.filter(state__in=DeployTask.ACTIVE_STATES).exists():
        raise DeployInProgress()
    if locked.status not in DEPLOYABLE_STATUSES:
        raise AgentNotDeployable(
            f"Only a registered or failed agent can be deployed; this one is {locked.status}.")
    if not AgentToken.objects.active().filter(agent=locked).exists():
        token_issue(agent=locked, actor=actor)
    backend = backend_name()
    now = timezone.now()
    task = DeployTask(agent=locked, backend=backend, queued_at=now)
    if not backend:
        task.state, task.error, task.finished_at = State.SKIPPED, NO_BACKEND_REASON, now
    try:
        with transaction.atomic():
            task.save(force_insert=True)
    except IntegrityError as exc:
        if is_unique_violation(exc, constraint="uniq_agent_active_deploy",
                               table="deploys_deploytask", columns=["agent_id"]):
            raise DeployInProgress() from None
        raise
    set_agent_status(agent_id=locked.pk,
                     status=Agent.Status.DEPLOYING if backend else Agent.Status.REGISTERED)
    if backend:
        _enqueue_on_commit(task_id=task.pk, attempt=1)
    agent.refresh_from_db(fields=["status"])
    return task


@transaction.atomic
def deploy_retry(*, task: DeployTask) -> DeployTask:
    """Queue a failed (or skipped) deploy task again; its job runs once.

    A task whose job died counts as failed: the agent's stale deploys are
    marked first. Two concurrent retries of one task queue it once: the state
    change is a conditional UPDATE, and the loser gets `deploy_not_retryable`.
    """
    if Agent.objects.filter(pk=task.agent_id, status=Agent.Status.ARCHIVED).exists():
        raise AgentArchived()
    deploy_mark_stale(agent=task.agent)
    backend = backend_name()
    now = timezone.now()
    changes: dict[str, Any] = {
        "state": State.QUEUED, "backend": backend, "result_id": "", "queued_at": now,
        "started_at": None, "heartbeat_at": None, "finished_at": None,
        "error": "", "log_tail": "",
    }
    if not backend:
        changes.update(state=State.SKIPPED, error=NO_BACKEND_REASON, finished_at=now)
    try:
        with transaction.atomic():
            updated = DeployTask.objects.filter(
                pk=task.pk, state__in=RETRYABLE_STATES
            ).update(**changes)
    except IntegrityError as exc:
        if is_unique_violation(exc, constraint="uniq_agent_active_deploy",
                               table="deploys_deploytask", columns=["active_agent"]):
            raise DeployInProgress() from None
        raise
    task.refresh_from_db()
    if not updated:
        raise DeployNotRetryable(
            f"Only a failed or skipped deploy can be retried; this one is {task.state}."
        )
    set_agent_status(
        agent_id=task.agent_id,
        status=Agent.Status.DEPLOYING if backend else Agent.Status.REGISTERED,
    )
    if backend:
        _enqueue_on_commit(task_id=task.pk, attempt=task.attempts + 1)
    return task


def deploy_latest(*, agent: Agent) -> DeployTask:
    """Return the agent's latest deploy task (a read: a stale one is only reported as such)."""
    task = agent.deploy_tasks.order_by("-created_at", "-id").first()
    if task is None:
        raise DeployNotFound()
    return task


def _enqueue_on_commit(*, task_id: int, attempt: int) -> None:
    # robust: a failed enqueue must not turn a committed deploy into a 500;
    # the task stays queued without a job and the stale sweep fails it.
    # The job carries the ID of the request that queued it (docs/logging.md).
    transaction.on_commit(partial(_enqueue, task_id=task_id, attempt=attempt,
                                  request_id=current_request_id() or ""), robust=True)


def _enqueue(*, task_id: int, attempt: int, request_id: str = "") -> None:
    result = deploy_agent.enqueue(deploy_task_id=task_id, attempt=attempt,
                                  request_id=request_id)
    # The job records its own result id when it claims; this covers the wait.
    DeployTask.objects.filter(pk=task_id, attempts=attempt - 1, result_id="").update(
        result_id=result.id
    )
    logger.info("deploy task %s attempt %s enqueued as %s", task_id, attempt, result.id)
