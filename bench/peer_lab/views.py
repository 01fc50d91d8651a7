"""The lab's one view: create a Note (201 with its JSON and a Location)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from rest_framework import generics, mixins, serializers

from bench.peer_lab.models import Note
from idempotency.decorators import idempotent


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = ["id", "title", "body", "created_at"]


class NoteCreate(generics.CreateAPIView):
    queryset = Note.objects.all()
    serializer_class = NoteSerializer

    if settings.SIDE == "ours":
        create = idempotent(mixins.CreateModelMixin.create)


def lab_principal(request: HttpRequest) -> str:
    """Every lab request belongs to one principal (the lab has no users)."""
    return "lab"


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "side": settings.SIDE})
