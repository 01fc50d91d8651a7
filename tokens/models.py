from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, When
from django.utils import timezone

from agents.models import Agent
from tokens.crypto import DIGEST_LENGTH, PREFIX_MAX_LENGTH

REVOKE_REASON_MAX_LENGTH = 255
OPERATOR_TOKEN_NAME_MAX_LENGTH = 64
# Without it (or superuser status) a user adds operator tokens for themselves only.
ADD_FOR_OTHERS_CODENAME = "add_operatortoken_for_others"
ADD_FOR_OTHERS_PERMISSION = f"tokens.{ADD_FOR_OTHERS_CODENAME}"


class TokenQuerySet(models.QuerySet):
    def active(self) -> TokenQuerySet:
        """Tokens not revoked (expired ones included: expiry is checked on use)."""
        return self.filter(revoked_at__isnull=True)


class BaseToken(models.Model):
    """What agent and operator tokens share: a lookup prefix and a digest, never the secret."""

    prefix = models.CharField(
        max_length=PREFIX_MAX_LENGTH, editable=False,
        help_text="The token's first characters; not secret, it finds the token.",
    )
    digest = models.CharField(max_length=DIGEST_LENGTH, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="Written at most once a minute.",
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TokenQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @property
    def is_active(self) -> bool:
        """Not revoked: what the one-active-token constraint counts (expired included)."""
        return self.revoked_at is None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class AgentToken(BaseToken):
    """An agent's API token. At most one is active (not revoked) per agent."""

    # PROTECT: a token is the agent's history; agents are archived, never deleted.
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="tokens")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    revoke_reason = models.CharField(
        max_length=REVOKE_REASON_MAX_LENGTH, blank=True, default="", editable=False
    )
    # The agent while the token is active, else NULL; computed and stored by
    # the database. A plain unique index on it is "one active token per agent"
    # on every engine: MariaDB has no partial indexes (Django skips a
    # conditional UniqueConstraint there), and NULLs never collide.
    active_agent = models.GeneratedField(
        expression=Case(When(Q(revoked_at__isnull=True), then=F("agent_id")), default=None),
        output_field=models.BigIntegerField(null=True),
        db_persist=True,
    )

    class Meta(BaseToken.Meta):
        verbose_name = "agent token"
        constraints = [
            models.UniqueConstraint(fields=["prefix"], name="uniq_agenttoken_prefix"),
            models.UniqueConstraint(fields=["active_agent"], name="uniq_agent_active_token"),
        ]


class OperatorToken(BaseToken):
    """A personal API token of a Django user; a user may hold several."""

    # PROTECT: deleting a user must not silently delete the record of their tokens.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="operator_tokens"
    )
    name = models.CharField(
        max_length=OPERATOR_TOKEN_NAME_MAX_LENGTH,
        help_text="What the token is for, e.g. the script that uses it.",
    )

    class Meta(BaseToken.Meta):
        verbose_name = "operator token"
        permissions = [
            (ADD_FOR_OTHERS_CODENAME, "Can add operator tokens for other users"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["prefix"], name="uniq_operatortoken_prefix"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class PepperFingerprint(models.Model):
    """Which pepper the stored digests were made with (one row, from the first token on).

    An HMAC of a fixed label keyed with the pepper (crypto.pepper_fingerprint),
    never the pepper: a start whose pepper differs stops (tokens/checks.py).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    fingerprint = models.CharField(max_length=DIGEST_LENGTH, editable=False)
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "tokens pepper fingerprint"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="pepperfingerprint_one_row"),
        ]

    def __str__(self) -> str:
        return f"pepper {self.fingerprint[:12]}…"
