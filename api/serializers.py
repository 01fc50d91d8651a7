"""Request bodies: `null` for an optional field means the field was not given.

Many clients (generated ones above all) send `null` for every optional field
they do not set. `NullMeansOmittedMixin` reads such a `null` as if the field
were left out: on create the field's default applies; on update (PATCH) the
stored value is kept, so a client that sends a whole object with nulls never
wipes what it did not mean to change. A required field still refuses `null`
with a field error (code `null`). The schema says so on every such field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension

NULL_MEANS_OMITTED = (
    "`null` is the same as leaving the field out: on create its default applies; "
    "on update (PATCH) the stored value is kept."
)


class NullMeansOmittedMixin:
    """Read `null` for an optional writable field as the field left out."""

    def null_omitted_fields(self) -> frozenset[str]:
        """Return the fields whose `null` is read as "not given"."""
        return frozenset(
            name for name, field in self.fields.items()  # type: ignore[attr-defined]
            if not field.read_only and not field.required and not field.allow_null
        )

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            omitted = self.null_omitted_fields()
            data = {name: value for name, value in data.items()
                    if not (value is None and name in omitted)}
        return super().to_internal_value(data)  # type: ignore[misc]


class NullMeansOmittedExtension(OpenApiSerializerExtension):
    """Mark each such field `nullable` in request bodies and say what `null` does."""

    target_class = NullMeansOmittedMixin
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction != "request":
            return schema
        properties = schema.get("properties", {})
        for name in sorted(self.target.null_omitted_fields()):
            if name not in properties:
                continue
            prop = properties[name]
            if "$ref" in prop:
                prop = properties[name] = {"allOf": [prop]}
            prop["nullable"] = True
            described = prop.get("description", "").rstrip()
            if described and not described.endswith("."):
                described += "."
            prop["description"] = f"{described} {NULL_MEANS_OMITTED}".strip()
        return schema
