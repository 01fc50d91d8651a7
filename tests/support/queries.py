"""Which captured SQL statements write: for the "reads never write" tests."""

from __future__ import annotations

import re

from django.test.utils import CaptureQueriesContext

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE)\b", re.IGNORECASE)
SESSION_TABLE = "django_session"


def writes(queries: CaptureQueriesContext) -> list[str]:
    """Return the writing statements of `queries`, the session framework's aside."""
    return [q["sql"] for q in queries.captured_queries
            if WRITE.match(q["sql"]) and SESSION_TABLE not in q["sql"]]
