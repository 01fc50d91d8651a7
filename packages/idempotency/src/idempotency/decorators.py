"""Opt a DRF view or ViewSet action into idempotency: `@idempotent`, `not_replayable`.

Thin: `@idempotent` hands the handler's call to `protocol.run`, the one
entry of the protocol (idempotency/protocol.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpResponseBase
from rest_framework.request import Request
from rest_framework.views import APIView

from idempotency import protocol
from idempotency.keys import HEADER
from idempotency.models import KEY_MAX_LENGTH

KEY_DESCRIPTION = (
    "Any unique string (1-255 visible ASCII characters), e.g. a UUID. A retry with "
    "the same key gets the first response again (`Idempotent-Replayed: true`) and "
    "never runs twice; the same key with a different body is 422."
)

Handler = Callable[..., HttpResponseBase]


def idempotent(handler: Handler) -> Handler:
    """Run `handler` (a view method taking `(self, request, ...)`) at most once per key.

    One line per endpoint: `@idempotent` above a ViewSet action, or
    `create = idempotent(mixins.CreateModelMixin.create)` for an inherited one.
    DRF calls handlers after authentication, permission and throttle checks,
    so a refused request never reaches the reservation table. With
    drf-spectacular installed, the operation documents the header.
    """

    @functools.wraps(handler)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return protocol.run(protocol.ViewCall(view, request, handler, args, kwargs))

    return _documented(wrapper)


def _documented(wrapper: Handler) -> Handler:
    """Add the Idempotency-Key header parameter to the operation's schema, if drf-spectacular is here."""
    try:
        from drf_spectacular.utils import OpenApiParameter, extend_schema
    except ImportError:
        return wrapper
    parameter = OpenApiParameter(
        name=HEADER, type=str, location=OpenApiParameter.HEADER, required=False,
        pattern=f"^[\\x21-\\x7e]{{1,{KEY_MAX_LENGTH}}}$", description=KEY_DESCRIPTION,
    )
    return extend_schema(parameters=[parameter])(wrapper)


def not_replayable(response: HttpResponseBase) -> HttpResponseBase:
    """Mark `response` as never stored (it reveals a secret); return it.

    Its request's effects still commit, but no record of the key is kept: a
    retry runs the view again, which must then refuse (e.g. 409) by itself.
    """
    return protocol.mark_not_replayable(response)
