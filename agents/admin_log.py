"""Change messages for the admin's LogEntry, in Django's own JSON form.

Django's admin logs a save on the object whose page it is, and names each
related object added or changed on that page (an inline) inside the
message: `[{"added": {}}, {"added": {"name": "deploy task", "object": "…"}}]`.
The admin's own buttons and actions log the same way, with these helpers,
through `ModelAdmin.log_addition` / `log_change`, in the transaction of the
service call they record. Objects are named by `str()`: tokens print their
non-secret lookup prefix, never the secret.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.utils.text import capfirst


def added() -> dict[str, Any]:
    """Return the message part for the addition of the logged object itself."""
    return {"added": {}}


def added_related(obj: Model) -> dict[str, Any]:
    """Return the message part for `obj`, added beside the logged object (Django's inline form)."""
    return {"added": {"name": str(obj._meta.verbose_name), "object": str(obj)}}


def _labels(obj: Model, fields: tuple[str, ...]) -> list[str]:
    # The labels Django's change form gives these fields.
    return [str(capfirst(obj._meta.get_field(name).verbose_name)) for name in fields]


def changed(obj: Model, *fields: str) -> dict[str, Any]:
    """Return the message part for changed `fields` of the logged object `obj`."""
    return {"changed": {"fields": _labels(obj, fields)}}


def changed_related(obj: Model, *fields: str) -> dict[str, Any]:
    """Return the message part for changed `fields` of `obj`, beside the logged object."""
    return {"changed": {"name": str(obj._meta.verbose_name), "object": str(obj),
                        "fields": _labels(obj, fields)}}
