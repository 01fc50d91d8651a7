from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response

from agents import deploy_services, services
from agents.filters import StatusFilter
from agents.models import Agent
from agents.serializers import (
    AgentSerializer,
    DeployRequestSerializer,
    DeployResponseSerializer,
    DeployTaskSerializer,
    deploy_status_url,
)
from idempotency.decorators import idempotent


class AgentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Agents, by slug. DELETE archives; PATCH changes the editable fields."""

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

    @extend_schema(request=DeployRequestSerializer, responses={202: DeployResponseSerializer})
    @idempotent  # above @action: @action replaces the schema @idempotent adds below it
    @action(detail=False, methods=["post"], url_path="deploy")
    def deploy(self, request: Request) -> Response:
        """Create an agent and deploy it in the background; 202 with its deploy task."""
        serializer = DeployRequestSerializer(data=request.data,
                                             context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        task = deploy_services.deploy_create(actor=request.user, **serializer.validated_data)
        body = DeployResponseSerializer({"agent": task.agent, "deploy": task},
                                        context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": deploy_status_url(task.agent.name)})

    @extend_schema(responses=DeployTaskSerializer)
    @action(detail=True, methods=["get"], url_path="deploy-status")
    def deploy_status(self, request: Request, slug: str | None = None) -> Response:
        """The agent's latest deploy: state, timestamps, log tail, error, attempts."""
        task = deploy_services.deploy_latest(agent=self.get_object())
        return Response(DeployTaskSerializer(task, context=self.get_serializer_context()).data)
