"""Recognise which constraint a database error violated, on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError


def is_unique_violation(
    exc: IntegrityError, *, constraint: str, table: str, columns: Sequence[str]
) -> bool:
    """Return whether `exc` is a violation of the unique `constraint`.

    PostgreSQL names the constraint in the error's diagnostics. SQLite names
    the table and columns instead ("UNIQUE constraint failed: t.a, t.b"), or
    the index for some partial indexes.
    """
    diag = getattr(exc.__cause__, "diag", None)
    constraint_name = getattr(diag, "constraint_name", None)
    if constraint_name:
        return constraint_name == constraint
    message = str(exc)
    if "UNIQUE constraint failed" not in message:
        return False
    if constraint in message:
        return True
    failed = message.split("UNIQUE constraint failed:", 1)[1]
    named = {part.strip() for part in failed.split(",")}
    return named == {f"{table}.{column}" for column in columns}
