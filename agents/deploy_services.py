"""Deploys: create an agent with its deploy task, run each attempt once, retry, sweep.

Exactly once: the deploy job claims its task with a conditional UPDATE
(queued -> running, for one attempt number) and writes its outcome only while
it still owns that attempt, so a job enqueued twice, or an old attempt that
outlived its stale timeout, never runs the backend twice or overwrites a newer
attempt.

Secrets: the request issues the agent's first token (so the agent has exactly
one active token from the start) and discards its secret. The job, once it
owns an attempt, rotates the token in its own short transaction and hands the
fresh secret to the backend only, in its environment. No plaintext secret is
ever stored: not in a response, a task argument, a log line or the database.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status

from agents.deploy_backends import (
    NO_BACKEND_REASON,
    BackendNotConfigured,
    LogTail,
    backend_name,
    get_backend,
)
from agents.models import Agent, DeployTask
from agents.services import agent_create
from tinyagentos_site.db import is_unique_violation
from tinyagentos_site.errors import ApiError, Conflict

logger = logging.getLogger(__name__)

State = DeployTask.State
RETRYABLE_STATES = (State.FAILED, State.SKIPPED)


class DeployNotFound(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "deploy_not_found"
    default_detail = "This agent has never been deployed."


class DeployNotRetryable(Conflict):
    default_code = "deploy_not_retryable"
    default_detail = "Only a failed or skipped deploy can be retried."


class DeployInProgress(Conflict):
    default_code = "deploy_in_progress"
    default_detail = "A deploy of this agent is already queued or running."


class AgentArchived(Conflict):
    default_code = "agent_archived"
    default_detail = "The agent is archived; it cannot be deployed."


# --- Tokens: the only calls into tokens.services ------------------------------
# Imported when called: the tokens app owns the contract
#   token_issue(*, agent, actor=None) -> IssuedToken(.token, .secret)
#   token_rotate(*, agent, actor=None) -> IssuedToken(.token, .secret)

def _token_issue(*, agent: Agent, actor: Any = None) -> Any:
    from tokens import services as token_services

    return token_services.token_issue(agent=agent, actor=actor)


def _token_rotate(*, agent: Agent, actor: Any = None) -> Any:
    from tokens import services as token_services

    return token_services.token_rotate(agent=agent, actor=actor)


# --- Request side ---------------------------------------------------------------

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
    _token_issue(agent=agent, actor=actor)
    now = timezone.now()
    task = DeployTask(agent=agent, backend=backend, queued_at=now)
    if not backend:
        task.state, task.error, task.finished_at = State.SKIPPED, NO_BACKEND_REASON, now
    task.save(force_insert=True)
    if backend:
        _enqueue_on_commit(task_id=task.pk, attempt=1)
    return task


@transaction.atomic
def deploy_retry(*, task: DeployTask) -> DeployTask:
    """Queue a failed (or skipped) deploy task again; its job runs once.

    Two concurrent retries of one task queue it once: the state change is a
    conditional UPDATE, and the loser gets `deploy_not_retryable`.
    """
    if Agent.objects.filter(pk=task.agent_id, status=Agent.Status.ARCHIVED).exists():
        raise AgentArchived()
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
                               table="agents_deploytask", columns=["agent_id"]):
            raise DeployInProgress() from None
        raise
    task.refresh_from_db()
    if not updated:
        raise DeployNotRetryable(
            f"Only a failed or skipped deploy can be retried; this one is {task.state}."
        )
    _set_agent_status(
        agent_id=task.agent_id,
        status=Agent.Status.DEPLOYING if backend else Agent.Status.REGISTERED,
    )
    if backend:
        _enqueue_on_commit(task_id=task.pk, attempt=task.attempts + 1)
    return task


def deploy_latest(*, agent: Agent) -> DeployTask:
    """Return the agent's latest deploy task, after marking stale ones failed."""
    deploy_mark_stale(agent=agent)
    task = agent.deploy_tasks.order_by("-created_at", "-id").first()
    if task is None:
        raise DeployNotFound()
    return task


def _enqueue_on_commit(*, task_id: int, attempt: int) -> None:
    # robust: a failed enqueue must not turn a committed deploy into a 500;
    # the task stays queued without a job and the stale sweep fails it.
    transaction.on_commit(partial(_enqueue, task_id=task_id, attempt=attempt), robust=True)


def _enqueue(*, task_id: int, attempt: int) -> None:
    from agents.tasks import deploy_agent

    result = deploy_agent.enqueue(deploy_task_id=task_id, attempt=attempt)
    # The job records its own result id when it claims; this covers the wait.
    DeployTask.objects.filter(pk=task_id, attempts=attempt - 1, result_id="").update(
        result_id=result.id
    )
    logger.info("deploy task %s attempt %s enqueued as %s", task_id, attempt, result.id)


# --- Job side --------------------------------------------------------------------

def deploy_run(*, deploy_task_id: int, attempt: int, result_id: str = "") -> dict[str, Any]:
    """Run one attempt of a deploy task; the body of the deploy job.

    Claims the task (queued -> running) for `attempt` with one conditional
    UPDATE; a job that claims nothing returns without running anything.
    """
    deploy_mark_stale()
    now = timezone.now()
    claim: dict[str, Any] = {
        "state": State.RUNNING, "attempts": attempt, "started_at": now,
        "heartbeat_at": now, "finished_at": None, "error": "", "log_tail": "",
    }
    if result_id:
        claim["result_id"] = result_id
    claimed = DeployTask.objects.filter(
        pk=deploy_task_id, state=State.QUEUED, attempts=attempt - 1
    ).update(**claim)
    if not claimed:
        logger.info("deploy task %s attempt %s: not claimed (already run, or not queued)",
                    deploy_task_id, attempt)
        return {"deploy_task": deploy_task_id, "attempt": attempt, "claimed": False}

    task = DeployTask.objects.select_related("agent").get(pk=deploy_task_id)
    log = LogTail()
    log.add(f"[taos] attempt {attempt} on {socket.gethostname()} (pid {os.getpid()})")
    logger.info("deploy task %s attempt %s: claimed", task.pk, attempt)
    try:
        state, error, agent_status = _run_attempt(task=task, attempt=attempt, log=log)
    except BaseException as exc:
        _finish(task=task, attempt=attempt, state=State.FAILED, log=log,
                error=f"The deploy job crashed ({type(exc).__name__}).",
                agent_status=Agent.Status.FAILED)
        raise
    owned = _finish(task=task, attempt=attempt, state=state, error=error, log=log,
                    agent_status=agent_status)
    logger.info("deploy task %s attempt %s: %s%s", task.pk, attempt, state,
                "" if owned else " (discarded: the attempt no longer owned its task)")
    return {"deploy_task": task.pk, "attempt": attempt, "claimed": True,
            "state": state if owned else "discarded"}


def _run_attempt(*, task: DeployTask, attempt: int,
                 log: LogTail) -> tuple[str, str, str | None]:
    """Carry out one claimed attempt; return (task state, error, agent status)."""
    try:
        backend = get_backend()
    except BackendNotConfigured as exc:
        log.add(f"[taos] {exc}")
        return State.FAILED, str(exc), Agent.Status.FAILED
    if backend is None:
        log.add(f"[taos] {NO_BACKEND_REASON}")
        return State.SKIPPED, NO_BACKEND_REASON, Agent.Status.REGISTERED
    agent = task.agent
    if agent.status == Agent.Status.ARCHIVED:
        return State.FAILED, AgentArchived.default_detail, None

    DeployTask.objects.filter(pk=task.pk).update(backend=backend.name)
    try:
        secret = _token_rotate(agent=agent).secret
    except Exception as exc:  # any failure to get a token is this attempt's failure
        code = getattr(exc, "default_code", None) or type(exc).__name__
        error = f"Could not issue the agent's deploy token ({code})."
        log.add(f"[taos] {error}")
        return State.FAILED, error, Agent.Status.FAILED
    log.redact(secret)

    outcome = backend.run(
        payload=agent_payload(agent=agent, task=task, attempt=attempt),
        secret=secret,
        extra_env={
            "TAOS_AGENT_ID": str(agent.pk),
            "TAOS_AGENT_SLUG": agent.name,
            "TAOS_DEPLOY_TASK_ID": str(task.pk),
            "TAOS_DEPLOY_ATTEMPT": str(attempt),
        },
        log=log,
        heartbeat=partial(_heartbeat, task_id=task.pk, attempt=attempt, log=log),
    )
    if outcome.succeeded:
        return State.SUCCEEDED, "", Agent.Status.RUNNING
    return State.FAILED, outcome.error, Agent.Status.FAILED


def agent_payload(*, agent: Agent, task: DeployTask, attempt: int) -> dict[str, Any]:
    """Return the agent as the deploy command reads it on stdin (no secret)."""
    return {
        "id": agent.pk, "name": agent.name, "display_name": agent.display_name,
        "host": agent.host, "qmd_index": agent.qmd_index, "color": agent.color,
        "emoji": agent.emoji, "can_read_user_memory": agent.can_read_user_memory,
        "framework": agent.framework, "model": agent.model,
        "deploy_task": task.pk, "attempt": attempt,
    }


def _heartbeat(*, task_id: int, attempt: int, log: LogTail) -> bool:
    """Record a sign of life and the log so far; False once the attempt lost its task."""
    try:
        return DeployTask.objects.filter(
            pk=task_id, state=State.RUNNING, attempts=attempt
        ).update(heartbeat_at=timezone.now(), log_tail=log.text()) == 1
    except DatabaseError as exc:
        # Keep the command running through a database blip; the stale sweep
        # decides if the outage outlasts DEPLOY_STALE_SECONDS.
        logger.warning("deploy task %s: heartbeat failed (%s)", task_id, type(exc).__name__)
        connection.close_if_unusable_or_obsolete()
        return True


@transaction.atomic
def _finish(*, task: DeployTask, attempt: int, state: str, error: str, log: LogTail,
            agent_status: str | None) -> bool:
    """Write the attempt's outcome if it still owns the task; return whether it did."""
    now = timezone.now()
    owned = DeployTask.objects.filter(
        pk=task.pk, state=State.RUNNING, attempts=attempt
    ).update(state=state, error=error, log_tail=log.text(), finished_at=now, heartbeat_at=now)
    if owned and agent_status:
        _set_agent_status(agent_id=task.agent_id, status=agent_status)
    return bool(owned)


def _set_agent_status(*, agent_id: int, status: str) -> None:
    # An archived agent stays archived whatever its deploy does.
    Agent.objects.filter(pk=agent_id).exclude(status=Agent.Status.ARCHIVED).update(
        status=status, updated_at=timezone.now()
    )


# --- Stale sweep ---------------------------------------------------------------

def deploy_mark_stale(*, agent: Agent | None = None) -> int:
    """Mark failed every deploy whose job died; return how many.

    A running task without a heartbeat for DEPLOY_STALE_SECONDS lost its
    worker (killed, OOM, host gone). A queued task that never got a job for
    that long lost its web worker between commit and enqueue. Both can be
    retried. Each is failed by a conditional UPDATE, so sweepers racing each
    other (or a late heartbeat) never fail one twice or fail a live one.
    """
    stale_seconds = settings.DEPLOY_STALE_SECONDS
    now = timezone.now()
    cutoff = now - timedelta(seconds=stale_seconds)
    dead = Q(state=State.RUNNING, heartbeat_at__lt=cutoff)
    never_enqueued = Q(state=State.QUEUED, result_id="", queued_at__lt=cutoff)
    reasons = {
        State.RUNNING: (
            f"The deploy worker stopped: no heartbeat for more than {stale_seconds} s "
            f"(DEPLOY_STALE_SECONDS); it was probably killed. Retry the deploy."
        ),
        State.QUEUED: (
            f"The deploy job was never enqueued within {stale_seconds} s "
            f"(DEPLOY_STALE_SECONDS). Retry the deploy."
        ),
    }
    tasks = DeployTask.objects.all() if agent is None else agent.deploy_tasks.all()
    marked = 0
    for task_id, agent_id, state in tasks.filter(dead | never_enqueued).values_list(
        "pk", "agent_id", "state"
    ):
        with transaction.atomic():
            failed = DeployTask.objects.filter(
                dead if state == State.RUNNING else never_enqueued, pk=task_id
            ).update(state=State.FAILED, error=reasons[state], finished_at=now)
            if failed:
                _set_agent_status(agent_id=agent_id, status=Agent.Status.FAILED)
                marked += 1
                logger.warning("deploy task %s marked failed: stale %s", task_id, state)
    return marked
