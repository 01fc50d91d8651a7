"""The deploy API: deploy a new or an existing agent, retry a deploy, read the latest one."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from agents.models import Agent
from deploys import services
from deploys.serializers import (
    DeployRequestSerializer,
    DeployResponseSerializer,
    DeployTaskSerializer,
    deploy_status_url,
)
from idempotency.decorators import idempotent


class DeployCreateView(generics.GenericAPIView):
    """Create an agent and deploy it in the background.

    Permissions are the agent's (`agents.add_agent`): a deploy creates an agent.
    """

    queryset = Agent.objects.all()
    serializer_class = DeployRequestSerializer

    @extend_schema(operation_id="agents_deploy_create", request=DeployRequestSerializer,
                   responses={202: DeployResponseSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        """Create an agent and deploy it in the background; 202 with its deploy task."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = services.deploy_create(actor=request.user, **serializer.validated_data)
        body = DeployResponseSerializer({"agent": task.agent, "deploy": task},
                                        context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": deploy_status_url(task.agent.name)})


class DeployStatusView(generics.GenericAPIView):
    """The agent's latest deploy; needs `agents.view_agent`."""

    queryset = Agent.objects.all()
    serializer_class = DeployTaskSerializer
    lookup_field = "name"
    lookup_url_kwarg = "slug"

    @extend_schema(operation_id="agents_deploy_status_retrieve", responses=DeployTaskSerializer)
    def get(self, request: Request, slug: str) -> Response:
        """The agent's latest deploy: state, timestamps, log tail, error, attempts."""
        task = services.deploy_latest(agent=self.get_object())
        return Response(self.get_serializer(task).data)


class AgentDeployView(generics.GenericAPIView):
    """Deploy an existing agent (registered or failed); `agents.add_agent`, as a deploy."""

    queryset = Agent.objects.all()
    serializer_class = DeployTaskSerializer
    lookup_field = "name"
    lookup_url_kwarg = "slug"

    @extend_schema(operation_id="agents_deploy_existing", request=None,
                   responses={202: DeployTaskSerializer})
    @idempotent
    def post(self, request: Request, slug: str) -> Response:
        """Deploy this agent in the background; 202 with its new deploy task."""
        task = services.deploy_existing(agent=self.get_object(), actor=request.user)
        return Response(self.get_serializer(task).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": deploy_status_url(task.agent.name)})


class AgentDeployRetryView(AgentDeployView):
    """Retry the agent's latest deploy when it failed, was skipped or is stale."""

    @extend_schema(operation_id="agents_deploy_retry", request=None,
                   responses={202: DeployTaskSerializer})
    @idempotent
    def post(self, request: Request, slug: str) -> Response:
        """Queue the agent's latest deploy again; 202 with the task."""
        task = services.deploy_retry(task=services.deploy_latest(agent=self.get_object()))
        return Response(self.get_serializer(task).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": deploy_status_url(task.agent.name)})
