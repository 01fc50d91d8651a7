"""A test-only endpoint whose response reveals a secret, so is never stored."""

from __future__ import annotations

import secrets

from django.urls import path
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from agents import services
from idempotency.decorators import idempotent, not_replayable


class IssueSecretView(APIView):
    permission_classes: list = []

    @idempotent
    def post(self, request, *args, **kwargs):
        agent = services.agent_create(display_name=request.data["display_name"])
        return not_replayable(Response({"agent": agent.name, "token": secrets.token_hex(8)},
                                       status=status.HTTP_201_CREATED))


urlpatterns = [path("api/secret/", IssueSecretView.as_view())]
