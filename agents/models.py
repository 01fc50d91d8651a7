from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

from api.error_codes import ErrorCode

NAME_MAX_LENGTH = 48
DISPLAY_NAME_MAX_LENGTH = 64
COLOR_DEFAULT = "#888888"

color_validator = RegexValidator(
    r"^#[0-9a-fA-F]{6}$", "Enter a colour as #rrggbb.", code=ErrorCode.INVALID_COLOR
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
