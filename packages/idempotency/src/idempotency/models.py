"""The reservation table: one row per (principal, Idempotency-Key)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

# Schema-shaping sizes are constants, not settings.
KEY_MAX_LENGTH = 255
PRINCIPAL_MAX_LENGTH = 64
FINGERPRINT_LENGTH = 64  # SHA-256, hex
# The unique index on (key, principal), where a duplicate waits for its holder.
UNIQUE_KEY_CONSTRAINT = "uniq_idempotency_key"


class IdempotencyRecord(models.Model):
    """A reservation, then the stored response, of one idempotent request.

    The row is inserted before the view runs, in the request's transaction:
    uncommitted, it is the in-flight sentinel other workers wait on; it
    commits together with the view's effects and the response it stores, or
    not at all. Visible rows are therefore always complete.
    """

    principal = models.CharField(
        max_length=PRINCIPAL_MAX_LENGTH,
        help_text="Who sent the key, e.g. user:42; keys of different principals are independent.",
    )
    key = models.CharField(max_length=KEY_MAX_LENGTH, help_text="The Idempotency-Key header.")
    method = models.CharField(max_length=8)
    path = models.TextField(help_text="The request path with its query string.")
    fingerprint = models.CharField(
        max_length=FINGERPRINT_LENGTH,
        help_text="SHA-256 of method, path and canonical JSON body; the body is not stored.",
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_headers = models.JSONField(
        null=True, blank=True, help_text="Only the headers worth replaying: Content-Type, Location."
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "idempotency key"
        db_table = "idempotency_record"
        constraints = [
            # Key first: requests look rows up by (key, principal), and the admin
            # searches by key alone; one index serves both.
            models.UniqueConstraint(fields=["key", "principal"], name=UNIQUE_KEY_CONSTRAINT),
        ]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expires_at")]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
