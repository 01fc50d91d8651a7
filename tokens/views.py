"""The agent token API (operators) and `GET /api/agent/me/` (agents)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Agent
from agents.serializers import AgentSerializer
from api.schema import OPTIONAL_EMPTY_JSON_BODY
from idempotency.decorators import not_replayable
from tokens import services
from tokens.errors import TokenNotFound
from tokens.models import AgentToken
from access.permission_map import Act
from access.permissions import ActionPermissions
from tokens.permissions import IsAgent, NotAnAgent
from tokens.serializers import (
    AgentTokenSerializer,
    IssuedTokenSerializer,
    RevokeSerializer,
)


def secret_response(issued: services.IssuedToken, *, status_code: int) -> Response:
    """Return the new secret once: never cached, never replayed by idempotency."""
    data = IssuedTokenSerializer(issued.token).data
    data["token"] = issued.secret
    response = Response(data, status=status_code)
    add_never_cache_headers(response)
    return not_replayable(response)  # a response holding a secret is never stored


class _AgentTokenBase(APIView):
    def get_agent(self, slug: str) -> Agent:
        return get_object_or_404(Agent, name=slug)


class AgentTokenView(_AgentTokenBase):
    """An agent's token: metadata (GET), issue (POST), revoke (DELETE)."""

    permission_classes = [NotAnAgent, ActionPermissions]
    permission_actions = {"GET": Act.TOKEN_VIEW, "POST": Act.TOKEN_ISSUE,
                          "DELETE": Act.TOKEN_REVOKE}

    @extend_schema(responses=AgentTokenSerializer)
    def get(self, request: Request, slug: str) -> Response:
        agent = self.get_agent(slug)
        token = AgentToken.objects.active().filter(agent=agent).select_related(
            "agent", "created_by").first()
        if token is None:
            raise TokenNotFound()
        return Response(AgentTokenSerializer(token).data)

    @extend_schema(request=OPTIONAL_EMPTY_JSON_BODY, responses={201: IssuedTokenSerializer})
    def post(self, request: Request, slug: str) -> Response:
        issued = services.token_issue(agent=self.get_agent(slug), actor=request.user)
        return secret_response(issued, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=RevokeSerializer, responses={204: None})
    def delete(self, request: Request, slug: str) -> Response:
        agent = self.get_agent(slug)
        serializer = RevokeSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        services.token_revoke(agent=agent, actor=request.user,
                              reason=serializer.validated_data["reason"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class AgentTokenRotateView(_AgentTokenBase):
    """Revoke the agent's active token, if any, and issue a new one."""

    permission_classes = [NotAnAgent, ActionPermissions]
    permission_actions = {"POST": Act.TOKEN_ROTATE}

    @extend_schema(request=OPTIONAL_EMPTY_JSON_BODY, responses={200: IssuedTokenSerializer})
    def post(self, request: Request, slug: str) -> Response:
        issued = services.token_rotate(agent=self.get_agent(slug), actor=request.user)
        return secret_response(issued, status_code=status.HTTP_200_OK)


class AgentMeView(APIView):
    """The calling agent, for requests authenticated by an agent token."""

    permission_classes = [IsAgent]

    @extend_schema(responses=AgentSerializer)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(AgentSerializer(request.user.agent).data)
