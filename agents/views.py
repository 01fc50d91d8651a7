from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import mixins, status, viewsets
from rest_framework.filters import SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response

from access.permission_map import Act
from agents import services
from agents.filters import StatusFilter
from agents.models import Agent
from agents.serializers import AgentSerializer
from idempotency.decorators import idempotent


class AgentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Agents, by slug. DELETE archives; PATCH changes the editable fields.

    Whoever may change an agent reads it too (PATCH answers the agent), as in
    Django's admin: `change` implies `view` (access/permission_map.py).
    """

    permission_actions = {"GET": Act.AGENT_VIEW, "POST": Act.AGENT_ADD,
                          "PATCH": Act.AGENT_CHANGE, "DELETE": Act.AGENT_ARCHIVE}

    queryset = Agent.objects.all()
    serializer_class = AgentSerializer
    lookup_field = "name"
    lookup_url_kwarg = "slug"
    lookup_value_regex = "[a-z0-9-]+"
    filter_backends = [SearchFilter, StatusFilter]
    search_fields = ["name", "display_name"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    create = idempotent(mixins.CreateModelMixin.create)

    def filter_queryset(self, queryset: Any) -> Any:
        # Filters narrow lists only: an archived agent is still found by slug.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def perform_create(self, serializer: AgentSerializer) -> None:
        serializer.instance = services.agent_create(**serializer.validated_data)

    def get_success_headers(self, data: Any) -> dict[str, str]:
        return {"Location": reverse("agent-detail", kwargs={"slug": data["name"]})}

    def perform_update(self, serializer: AgentSerializer) -> None:
        services.agent_update(agent=serializer.instance, **serializer.validated_data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.agent_archive(agent=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
