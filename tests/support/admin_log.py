"""Reading the admin's LogEntry rows in tests: an object's History, as Django shows it."""

from __future__ import annotations

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model


def history(obj: Model) -> list[LogEntry]:
    """Return `obj`'s admin log entries, oldest first (its History page, reversed)."""
    return list(LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
    ).order_by("action_time", "pk"))


def said(entry: LogEntry) -> str:
    """Return the entry's message as the History page renders it."""
    return entry.get_change_message()


def assert_not_logged(*secrets: str) -> None:
    """No secret is in any log entry's message or object name."""
    for entry in LogEntry.objects.all():
        for secret in secrets:
            assert secret not in entry.change_message and secret not in entry.object_repr
