from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

NAME_MAX_LENGTH = 48
DISPLAY_NAME_MAX_LENGTH = 64
COLOR_DEFAULT = "#888888"

color_validator = RegexValidator(
    r"^#[0-9a-fA-F]{6}$", "Enter a colour as #rrggbb.", code="invalid_color"
)


class Agent(models.Model):
    class Status(models.TextChoices):
        REGISTERED = "registered", "Registered"
        DEPLOYING = "deploying", "Deploying"
        RUNNING = "running", "Running"
        FAILED = "failed", "Failed"
        ARCHIVED = "archived", "Archived"

    name = models.SlugField(
        max_length=NAME_MAX_LENGTH,
        editable=False,
        help_text="The agent's slug, derived from its display name; safe for a container name.",
    )
    display_name = models.CharField(max_length=DISPLAY_NAME_MAX_LENGTH)
    host = models.CharField(max_length=255, blank=True, default="")
    qmd_index = models.CharField(
        "QMD index", max_length=128, blank=True, default="",
        help_text="The agent's memory index; defaults to its slug.",
    )
    color = models.CharField(max_length=7, default=COLOR_DEFAULT, validators=[color_validator])
    emoji = models.CharField(max_length=16, blank=True, default="")
    can_read_user_memory = models.BooleanField(default=False)
    framework = models.CharField(max_length=64, blank=True, default="")
    model = models.CharField(max_length=128, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.REGISTERED, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="uniq_agent_name"),
        ]

    def __str__(self) -> str:
        return self.name


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

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="deploy_tasks")
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

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One deploy in flight per agent: a retry cannot start a second.
            models.UniqueConstraint(
                fields=["agent"],
                condition=models.Q(state__in=["queued", "running"]),
                name="uniq_agent_active_deploy",
            ),
        ]

    def __str__(self) -> str:
        return f"deploy #{self.pk} of {self.agent_id} ({self.state})"
