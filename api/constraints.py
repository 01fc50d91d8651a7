"""Recognise which constraint a database error violated, on PostgreSQL, SQLite and MariaDB."""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.db import IntegrityError

# MariaDB/MySQL: ER_DUP_ENTRY, "Duplicate entry '7' for key 'uniq_agent_active_token'"
# (MySQL 8 writes the key as 'table.name').
MYSQL_DUP_ENTRY = 1062
_MYSQL_DUP_KEY = re.compile(r"for key '(?:[^'.]*\.)?([^'.]+)'")


def is_unique_violation(
    exc: IntegrityError, *, constraint: str, table: str, columns: Sequence[str]
) -> bool:
    """Return whether `exc` is a violation of the unique `constraint`.

    PostgreSQL names the constraint in the error's diagnostics; MariaDB in
    the message of error 1062 (a unique index is named after its
    constraint). SQLite names the table and columns instead ("UNIQUE
    constraint failed: t.a, t.b"), or the index for some partial indexes.
    """
    diag = getattr(exc.__cause__, "diag", None)
    constraint_name = getattr(diag, "constraint_name", None)
    if constraint_name:
        return constraint_name == constraint
    if exc.args and exc.args[0] == MYSQL_DUP_ENTRY:
        found = _MYSQL_DUP_KEY.search(str(exc.args[1]) if len(exc.args) > 1 else "")
        return found is not None and found.group(1) == constraint
    message = str(exc)
    if "UNIQUE constraint failed" not in message:
        return False
    if constraint in message:
        return True
    failed = message.split("UNIQUE constraint failed:", 1)[1]
    named = {part.strip() for part in failed.split(",")}
    return named == {f"{table}.{column}" for column in columns}
