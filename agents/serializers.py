from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.models import DISPLAY_NAME_MAX_LENGTH, Agent
from agents.naming import DISPLAY_NAME_PATTERN, clean_display_name
from api.serializers import NullMeansOmittedMixin


@extend_schema_field({
    "type": "string", "minLength": 1, "maxLength": DISPLAY_NAME_MAX_LENGTH,
    "pattern": DISPLAY_NAME_PATTERN,
    "description": "Trimmed; 1 to 64 characters with a letter or digit, no control or format characters (Unicode Cc, Cf).",
})
class DisplayNameField(serializers.CharField):
    pass


class AgentSerializer(NullMeansOmittedMixin, serializers.ModelSerializer):
    """An agent; `name` (the slug) and `status` are read-only and derived."""

    display_name = DisplayNameField(max_length=DISPLAY_NAME_MAX_LENGTH)

    class Meta:
        model = Agent
        fields = [
            "id", "name", "display_name", "host", "qmd_index", "color", "emoji",
            "can_read_user_memory", "framework", "model", "status",
            "created_at", "updated_at",
        ]
        read_only_fields = ["id", "name", "status", "created_at", "updated_at"]

    def to_internal_value(self, data: Any) -> Any:
        # TinyAgentOS clients send only `name`: read it as the display name.
        if (
            self.instance is None
            and isinstance(data, dict)
            and data.get("display_name") is None
            and "name" in data
        ):
            data = {**data, "display_name": data["name"]}
        return super().to_internal_value(data)

    def validate_display_name(self, value: str) -> str:
        try:
            return clean_display_name(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0], code=exc.error_list[0].code)
