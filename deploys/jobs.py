"""The job side of a deploy: what a task worker runs, and the stale sweep.

Exactly once: the deploy job claims its task with a conditional UPDATE
(queued -> running, for one attempt number) and writes its outcome only while
it still owns that attempt, so a job enqueued twice, or an old attempt that
outlived its stale timeout, never runs the backend twice or overwrites a newer
attempt.

Secrets: the job, once it owns an attempt, rotates the agent's token in its
own short transaction and hands the fresh secret to the backend only, in its
environment. No plaintext secret is ever stored: not in a task argument, a
log line or the database.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from agents.models import Agent
from deploys.backends import (
    NO_BACKEND_REASON,
    BackendNotConfigured,
    LogTail,
    get_backend,
)
from deploys.errors import AgentArchived
from deploys import signals
from deploys.models import DeployTask
from tokens.services import token_rotate

logger = logging.getLogger(__name__)

State = DeployTask.State



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

    started = time.monotonic()
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
        _job_finished(State.FAILED, started)
        raise
    owned = _finish(task=task, attempt=attempt, state=state, error=error, log=log,
                    agent_status=agent_status)
    logger.info("deploy task %s attempt %s: %s%s", task.pk, attempt, state,
                "" if owned else " (discarded: the attempt no longer owned its task)")
    _job_finished(state if owned else "discarded", started)
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
        secret = token_rotate(agent=agent).secret
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
        set_agent_status(agent_id=task.agent_id, status=agent_status)
    return bool(owned)


def set_agent_status(*, agent_id: int, status: str) -> None:
    """Set the agent's status from its deploy; an archived agent stays archived."""
    Agent.objects.filter(pk=agent_id).exclude(status=Agent.Status.ARCHIVED).update(
        status=status, updated_at=timezone.now()
    )


# --- Stale sweep ---------------------------------------------------------------

def _job_finished(state: str, started: float) -> None:
    signals.job_finished.send(sender=None, state=str(state),
                              backend=settings.DEPLOY_BACKEND or "none",
                              seconds=time.monotonic() - started)


def deploy_mark_stale(*, agent: Agent | None = None) -> int:
    """Mark failed every deploy whose job died (`DeployTask.stale_conditions`); return how many.

    Both kinds can be retried afterwards. Each is failed by a conditional
    UPDATE, so sweepers racing each other (or a late heartbeat) never fail one
    twice or fail a live one.
    """
    now = timezone.now()
    conditions = DeployTask.stale_conditions(now=now)
    tasks = DeployTask.objects.all() if agent is None else agent.deploy_tasks.all()
    marked = 0
    for task_id, agent_id, state in tasks.filter(
        conditions[State.RUNNING] | conditions[State.QUEUED]
    ).values_list("pk", "agent_id", "state"):
        with transaction.atomic():
            failed = DeployTask.objects.filter(conditions[state], pk=task_id).update(
                state=State.FAILED, error=DeployTask.stale_reason_for(state), finished_at=now)
            if failed:
                set_agent_status(agent_id=agent_id, status=Agent.Status.FAILED)
                marked += 1
                signals.stale_marked.send(sender=None, state=str(state))
                logger.warning("deploy task %s marked failed: stale %s", task_id, state)
    return marked
