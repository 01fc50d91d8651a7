"""A deploy of an agent: its state, attempts and the tail of its log."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from agents.models import Agent

# The log tail kept per deploy task: the last characters of the command's
# output. Bounded so that a chatty command cannot grow a row without limit.
DEPLOY_LOG_TAIL_MAX_CHARS = 8000


class DeployTask(models.Model):
    """One deploy of an agent: its state, attempts and the tail of its log.

    The deploy job claims a task with a conditional UPDATE (queued -> running,
    for one attempt number), so even a job enqueued twice runs its backend once.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)
    FINISHED_STATES = (State.SUCCEEDED, State.FAILED, State.SKIPPED)

    # PROTECT: deploy history is kept; agents are archived, never deleted.
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="deploy_tasks")
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.QUEUED, db_index=True
    )
    backend = models.CharField(
        max_length=32, blank=True, default="",
        help_text="The deploy backend that ran (or was to run) this task; empty: none configured.",
    )
    attempts = models.PositiveIntegerField(
        default=0, help_text="How many times a job has claimed this task."
    )
    result_id = models.CharField(
        "task result id", max_length=64, blank=True, default="",
        help_text="The id of the Tasks API result (django_tasks_db) of the current attempt.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current attempt was queued."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="The running job's last sign of life."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    log_tail = models.TextField(blank=True, default="")
    error = models.TextField(
        blank=True, default="", help_text="Why the deploy failed or was skipped."
    )
    # The agent while the task is queued or running, else NULL; computed and
    # stored by the database. A plain unique index on it is "one deploy in
    # flight per agent" on every engine (MariaDB has no partial indexes).
    active_agent = models.GeneratedField(
        expression=models.Case(
            models.When(models.Q(state__in=["queued", "running"]), then=models.F("agent_id")),
            default=None,
        ),
        output_field=models.BigIntegerField(null=True),
        db_persist=True,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One deploy in flight per agent: a retry cannot start a second.
            models.UniqueConstraint(fields=["active_agent"], name="uniq_agent_active_deploy"),
        ]

    def __str__(self) -> str:
        return f"deploy #{self.pk} of {self.agent_id} ({self.state})"

    @staticmethod
    def stale_conditions(*, now: datetime | None = None) -> dict[str, models.Q]:
        """Return, per active state, the filter of tasks whose job is gone.

        A running task without a heartbeat for DEPLOY_STALE_SECONDS lost its
        worker (killed, OOM, host gone); a queued one never enqueued for that
        long lost its web worker between commit and enqueue.
        """
        cutoff = stale_cutoff(now=now)
        return {
            DeployTask.State.RUNNING: models.Q(state=DeployTask.State.RUNNING,
                                               heartbeat_at__lt=cutoff),
            DeployTask.State.QUEUED: models.Q(state=DeployTask.State.QUEUED, result_id="",
                                              queued_at__lt=cutoff),
        }

    @staticmethod
    def stale_reason_for(state: str) -> str:
        """Say why a task stuck in `state` (running or queued) is failed as stale."""
        seconds = settings.DEPLOY_STALE_SECONDS
        if state == DeployTask.State.RUNNING:
            return (f"The deploy worker stopped: no heartbeat for more than {seconds} s "
                    f"(DEPLOY_STALE_SECONDS); it was probably killed. Retry the deploy.")
        return (f"The deploy job was never enqueued within {seconds} s "
                f"(DEPLOY_STALE_SECONDS). Retry the deploy.")

    @property
    def stale_reason(self) -> str:
        """Why this task's job is gone, or "" while it is not stale; computed, never written.

        The test of `stale_conditions` on this row: a reader (the deploy-status
        API, the admin) sees a dead deploy at once, before a sweep (the deploy
        worker's, or `mark_stale_deploys`) has marked it failed.
        """
        cutoff = stale_cutoff()
        if self.state == self.State.RUNNING:
            stale = self.heartbeat_at is not None and self.heartbeat_at < cutoff
        elif self.state == self.State.QUEUED:
            stale = not self.result_id and self.queued_at is not None and self.queued_at < cutoff
        else:
            stale = False
        return self.stale_reason_for(self.state) if stale else ""


def stale_cutoff(*, now: datetime | None = None) -> datetime:
    """Return the moment before which an active task's last sign of life makes it stale."""
    return (now or timezone.now()) - timedelta(seconds=settings.DEPLOY_STALE_SECONDS)
