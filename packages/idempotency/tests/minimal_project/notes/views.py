"""`POST /notes/` makes a note, at most once per Idempotency-Key; `GET /notes/` counts them."""

from __future__ import annotations

import os
import time

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from idempotency.decorators import idempotent
from notes.models import Note


class NotesView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"count": Note.objects.count()})

    @idempotent
    def post(self, request: Request) -> Response:
        # Slow on purpose (MINISITE_VIEW_SECONDS): duplicates arrive while it holds the key.
        time.sleep(float(os.environ.get("MINISITE_VIEW_SECONDS", "0")))
        note = Note.objects.create(text=request.data["text"])
        return Response({"id": note.pk, "text": note.text}, status=status.HTTP_201_CREATED,
                        headers={"Location": f"/notes/{note.pk}/"})
