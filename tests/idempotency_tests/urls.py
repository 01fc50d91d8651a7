"""Test-only endpoints: a secret, a swallowed database error, nesting, a streamed body."""

from __future__ import annotations

import secrets

from django.db import DatabaseError, connection, transaction
from django.urls import path
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import MultiPartParser
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


class SwallowedErrorView(APIView):
    """Creates an agent, then swallows a database error inside the request's transaction."""

    permission_classes: list = []

    @idempotent
    def post(self, request, *args, **kwargs):
        agent = services.agent_create(display_name=request.data["display_name"])
        try:
            with transaction.atomic(savepoint=False):
                with connection.cursor() as cursor:
                    cursor.execute("SELECT * FROM no_such_table")
        except DatabaseError:
            pass  # the bug: the request's transaction is now marked for rollback
        return Response({"agent": agent.name}, status=status.HTTP_201_CREATED)


class NestedView(APIView):
    """An idempotent handler that calls another idempotent handler with the same request."""

    permission_classes: list = []

    @idempotent
    def post(self, request, *args, **kwargs):
        return self.create(request)

    @idempotent
    def create(self, request):
        agent = services.agent_create(display_name=request.data["display_name"])
        return Response({"agent": agent.name}, status=status.HTTP_201_CREATED)


class BodyView(APIView):
    """Answers how many fields it parsed; outside /api/ (no API body limit, any media type).

    Session-authenticated, multipart: the session's CSRF check parses the
    body before the view, and the multipart parser streams it.
    """

    authentication_classes = [SessionAuthentication]
    parser_classes = [MultiPartParser]
    permission_classes: list = []

    @idempotent
    def post(self, request, *args, **kwargs):
        return Response({"fields": len(request.data)}, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("api/secret/", IssueSecretView.as_view()),
    path("api/swallowed-error/", SwallowedErrorView.as_view()),
    path("api/nested/", NestedView.as_view()),
    path("body/", BodyView.as_view()),
]
