from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request

from agents.models import Agent
from api.error_codes import ErrorCode


class StatusFilter(BaseFilterBackend):
    """`?status=a,b`; without it, archived agents are hidden from lists."""

    param = "status"

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        raw = request.query_params.get(self.param)
        if raw is None or raw == "":
            return queryset.exclude(status=Agent.Status.ARCHIVED)
        wanted = [value.strip() for value in raw.split(",") if value.strip()]
        invalid = [value for value in wanted if value not in Agent.Status.values]
        if invalid or not wanted:
            raise serializers.ValidationError(
                {self.param: [serializers.ErrorDetail(
                    f"Unknown status {', '.join(invalid) or raw!r}; one of: "
                    f"{', '.join(Agent.Status.values)}.",
                    code=ErrorCode.INVALID_CHOICE,
                )]}
            )
        return queryset.filter(status__in=wanted)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        choices = "|".join(Agent.Status.values)
        return [{
            "name": self.param,
            "required": False,
            "in": "query",
            "description": "Comma-separated statuses; archived agents are listed only when asked for.",
            "schema": {"type": "string", "example": "running,deploying",
                       "pattern": f"^({choices})(,({choices}))*$"},
        }]
