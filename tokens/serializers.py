from __future__ import annotations

from rest_framework import serializers

from api.serializers import NullMeansOmittedMixin
from tokens.models import REVOKE_REASON_MAX_LENGTH, AgentToken


class AgentTokenSerializer(serializers.ModelSerializer):
    """A token's metadata: never its secret or digest."""

    agent = serializers.SlugRelatedField(slug_field="name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AgentToken
        fields = ["id", "agent", "prefix", "created_at", "created_by", "expires_at",
                  "last_used_at"]
        read_only_fields = fields


class IssuedTokenSerializer(AgentTokenSerializer):
    """A new token's metadata plus its secret, in `token`, shown this once."""

    token = serializers.CharField(read_only=True, help_text="The secret; shown only once.")

    class Meta(AgentTokenSerializer.Meta):
        fields = [*AgentTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class RevokeSerializer(NullMeansOmittedMixin, serializers.Serializer):
    """Why a token is revoked; `reason` is optional (`null`: not given)."""

    reason = serializers.CharField(max_length=REVOKE_REASON_MAX_LENGTH, required=False,
                                   allow_blank=True, default="")
