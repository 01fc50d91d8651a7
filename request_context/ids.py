"""The request ID: validated or made here, held in a context variable while it is served.

An incoming `X-Request-ID` is kept when it is 1 to 128 visible ASCII
characters (0x21-0x7E: no space, no control character, nothing outside
ASCII); anything else is replaced by a new ID, 32 hex digits (uuid4), so a
client cannot put a line break or an escape sequence into the logs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

HEADER = "X-Request-ID"
MAX_LENGTH = 128
_VALID = re.compile(rf"[\x21-\x7e]{{1,{MAX_LENGTH}}}")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> str | None:
    """Return `value` if it is an acceptable request ID, else None."""
    if value is not None and _VALID.fullmatch(value):
        return value
    return None


def request_id_from(value: str | None) -> str:
    """Return the incoming ID if it is valid, else a new one."""
    return valid_request_id(value) or new_request_id()


def current_request_id() -> str | None:
    """Return the ID of the request (or deploy job) being served here, else None."""
    return _request_id.get()


@contextmanager
def bound_request_id(request_id: str | None) -> Iterator[str | None]:
    """Hold `request_id` as the current one inside the block; the previous one after it."""
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)
