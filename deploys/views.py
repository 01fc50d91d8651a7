"""The deploy API: deploy a new or an existing agent, retry a deploy, read the latest one."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from access.permission_map import Act
from agents.models import Agent
from api.schema import OPTIONAL_EMPTY_JSON_BODY
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

    Asks `deploy.new` (access/permission_map.py): it creates an agent, a deploy
    and the agent's token.
    """

    permission_actions = {"POST": Act.DEPLOY_NEW}

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
    """The agent's latest deploy; asks `deploy.view`."""

    permission_actions = {"GET": Act.DEPLOY_VIEW}

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
    """Deploy an existing agent (registered or failed); asks `deploy.existing`.

    The deploy issues the agent's token if it has none and its job rotates
    it: the token permissions come with the deploy's, as in the admin.
    """

    permission_actions = {"POST": Act.DEPLOY_EXISTING}

    queryset = Agent.objects.all()
    serializer_class = DeployTaskSerializer
    lookup_field = "name"
    lookup_url_kwarg = "slug"

    @extend_schema(operation_id="agents_deploy_existing", request=OPTIONAL_EMPTY_JSON_BODY,
                   responses={202: DeployTaskSerializer})
    @idempotent
    def post(self, request: Request, slug: str) -> Response:
        """Deploy this agent in the background; 202 with its new deploy task."""
        task = services.deploy_existing(agent=self.get_object(), actor=request.user)
        return Response(self.get_serializer(task).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": deploy_status_url(task.agent.name)})


class AgentDeployRetryView(AgentDeployView):
    """Retry the agent's latest deploy when it failed, was skipped or is stale; `deploy.retry`."""

    permission_actions = {"POST": Act.DEPLOY_RETRY}

    @extend_schema(operation_id="agents_deploy_retry", request=OPTIONAL_EMPTY_JSON_BODY,
                   responses={202: DeployTaskSerializer})
    @idempotent
    def post(self, request: Request, slug: str) -> Response:
        """Queue the agent's latest deploy again; 202 with the task."""
        task = services.deploy_retry(task=services.deploy_latest(agent=self.get_object()))
        return Response(self.get_serializer(task).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": deploy_status_url(task.agent.name)})
